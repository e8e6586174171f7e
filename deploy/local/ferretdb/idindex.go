package main

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	_ "modernc.org/sqlite" // the same pure-Go SQLite driver FerretDB uses
)

// idIndexKeeper works around a performance trap in FerretDB v1's SQLite backend: updates and
// deletes select rows with `_ferretdb_sjson->'$._id' = ?`, while FerretDB's own _id index is on
// the expression `_ferretdb_sjson->"_id"`. SQLite uses an expression index only for the
// identical expression, so every update or delete scans the whole table (about 30 ms per
// write at 10,000 documents). This keeper adds an index on the exact expression to every
// collection table, which brings such a write under a millisecond. It only ever adds an index:
// FerretDB's data and metadata are left as they are, and a dropped table takes its index along.
type idIndexKeeper struct {
	dir    string
	logger *slog.Logger
	dbs    map[string]*sql.DB
}

func (k *idIndexKeeper) run(ctx context.Context, every time.Duration) {
	ticker := time.NewTicker(every)
	defer ticker.Stop()
	defer k.closeAll()
	for {
		if err := k.sweep(ctx); err != nil {
			k.logger.Debug("id index sweep", "error", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
	}
}

func (k *idIndexKeeper) sweep(ctx context.Context) error {
	files, err := filepath.Glob(filepath.Join(k.dir, "*.sqlite"))
	if err != nil {
		return err
	}
	seen := make(map[string]bool, len(files))
	for _, file := range files {
		seen[file] = true
		db, err := k.open(file)
		if err != nil {
			return err
		}
		if err := ensureIDIndexes(ctx, db); err != nil {
			k.logger.Debug("id index", "file", file, "error", err)
		}
	}
	for file, db := range k.dbs { // databases dropped since the last sweep
		if !seen[file] {
			db.Close()
			delete(k.dbs, file)
		}
	}
	return nil
}

func (k *idIndexKeeper) open(file string) (*sql.DB, error) {
	if db, ok := k.dbs[file]; ok {
		if _, err := os.Stat(file); err == nil {
			return db, nil
		}
	}
	db, err := sql.Open("sqlite", "file:"+file+"?_pragma=busy_timeout(10000)")
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1)
	k.dbs[file] = db
	return db, nil
}

func (k *idIndexKeeper) closeAll() {
	for _, db := range k.dbs {
		db.Close()
	}
}

// ensureIDIndexes creates the missing `<table>__id_path` indexes of one database file.
func ensureIDIndexes(ctx context.Context, db *sql.DB) error {
	rows, err := db.QueryContext(ctx, `
		SELECT c.table_name FROM _ferretdb_collections c
		WHERE NOT EXISTS (
			SELECT 1 FROM sqlite_master m
			WHERE m.type = 'index' AND m.name = c.table_name || '__id_path'
		)`)
	if err != nil {
		return err // a database being created has no metadata table yet
	}
	var tables []string
	for rows.Next() {
		var table string
		if err := rows.Scan(&table); err != nil {
			rows.Close()
			return err
		}
		tables = append(tables, table)
	}
	rows.Close()
	for _, table := range tables {
		quoted := strings.ReplaceAll(table, `"`, `""`)
		q := fmt.Sprintf(`CREATE INDEX IF NOT EXISTS "%s__id_path" ON "%s" (_ferretdb_sjson->'$._id')`,
			quoted, quoted)
		if _, err := db.ExecContext(ctx, q); err != nil {
			return err
		}
	}
	return nil
}
