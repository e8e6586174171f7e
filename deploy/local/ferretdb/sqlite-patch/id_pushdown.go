// This file is not part of the wrapper's own package: provisioning copies it into FerretDB's
// SQLite backend (internal/backends/sqlite) and points that backend's two `_id` pushdown
// blocks, in Query and Explain, at idWhere. See local_infra/provision.py.

package sqlite

import (
	"fmt"
	"strings"

	"github.com/FerretDB/FerretDB/internal/backends/sqlite/metadata"
	"github.com/FerretDB/FerretDB/internal/handler/sjson"
	"github.com/FerretDB/FerretDB/internal/types"
	"github.com/FerretDB/FerretDB/internal/util/must"
)

// maxPushedIDs bounds the SQL parameters of one `_id IN (...)`.
const maxPushedIDs = 1000

// idWhere narrows a query to the rows its filter's `_id` condition allows, read through the
// _id index: `{_id: v}` or `{_id: {$in: [v, ...]}}`, with every v a string or an ObjectID,
// whatever other keys the filter has. FerretDB itself pushes `_id` down only when it is the
// filter's one key and a single value, and scans the whole collection otherwise: a
// compare-and-set such as `{_id: v, claim: c}` or a batch read by `$in` then costs a read of
// every document. The handler still applies the whole filter to the rows returned, so the
// other keys keep their meaning; a filter without such an `_id` condition returns "", nil
// (a full scan, as before).
func idWhere(filter *types.Document) (string, []any) {
	if filter == nil {
		return "", nil
	}
	value, err := filter.Get("_id")
	if err != nil {
		return "", nil
	}
	if pushable(value) {
		return fmt.Sprintf(` WHERE %s = ?`, metadata.IDColumn), []any{marshalID(value)}
	}
	operator, ok := value.(*types.Document)
	if !ok || operator.Len() != 1 {
		return "", nil
	}
	in, err := operator.Get("$in")
	if err != nil {
		return "", nil
	}
	values, ok := in.(*types.Array)
	if !ok || values.Len() == 0 || values.Len() > maxPushedIDs {
		return "", nil
	}
	args := make([]any, 0, values.Len())
	for i := 0; i < values.Len(); i++ {
		v := must.NotFail(values.Get(i))
		if !pushable(v) {
			return "", nil
		}
		args = append(args, marshalID(v))
	}
	placeholders := strings.TrimSuffix(strings.Repeat("?, ", len(args)), ", ")
	return fmt.Sprintf(` WHERE %s IN (%s)`, metadata.IDColumn, placeholders), args
}

// pushable: the `_id` values whose stored form compares equal exactly when MongoDB's do.
func pushable(v any) bool {
	switch v.(type) {
	case string, types.ObjectID:
		return true
	default:
		return false
	}
}

func marshalID(v any) string {
	return string(must.NotFail(sjson.MarshalSingleValue(v)))
}
