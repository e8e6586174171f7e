// This file is not part of the wrapper's own package: provisioning copies it into FerretDB's
// SQL wrapper package (internal/util/fsql) and points the debug logs of its db.go and tx.go
// here. See local_infra/provision.py.
//
// FerretDB logged each SQL statement with l.With(slog.Any("args", args)).DebugContext(...).
// With builds its attributes when it is called, whatever the level, so every statement
// formatted its arguments (the documents it wrote) twice and threw the text away: about a
// tenth of the server's CPU under the sync benchmarks. Here nothing is built unless debug
// logging is on.

package fsql

import (
	"context"
	"log/slog"
)

// debugSQL logs msg with fields at debug level, building the record only when l logs it.
func debugSQL(ctx context.Context, l *slog.Logger, fields []any, msg string) {
	if l.Enabled(ctx, slog.LevelDebug) {
		l.With(fields...).DebugContext(ctx, msg)
	}
}
