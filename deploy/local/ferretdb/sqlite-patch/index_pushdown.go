// This file is not part of the wrapper's own package: provisioning copies it into FerretDB's
// SQLite backend (internal/backends/sqlite) and renames that backend's Query to queryScan, so
// that every query comes here first. See local_infra/provision.py.

package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/FerretDB/FerretDB/internal/backends"
	"github.com/FerretDB/FerretDB/internal/backends/sqlite/metadata"
	"github.com/FerretDB/FerretDB/internal/handler/sjson"
	"github.com/FerretDB/FerretDB/internal/types"
	"github.com/FerretDB/FerretDB/internal/util/fsql"
	"github.com/FerretDB/FerretDB/internal/util/iterator"
	"github.com/FerretDB/FerretDB/internal/util/lazyerrors"
	"github.com/FerretDB/FerretDB/internal/util/must"
)

// FerretDB v1 reads a SQLite collection through an index only for a single `_id`: any other
// filter, and every sort, reads and decodes the whole table. Yet createIndexes does create
// real SQLite indexes, on the expressions `_ferretdb_sjson->"field"` (the JSON text of each
// key field). Query here reads through such an index when the handler's hint allows it:
//
//   - equality on string values of the index's leading fields becomes a WHERE on those
//     expressions (a JSON string's text is unique to it, so this matches exactly the scalar
//     values MongoDB's equality matches);
//   - a find sorted on the index's next field, with a limit, is read in that order and the
//     handler stops after the rows it needs (see indexBounded in the handler);
//   - a count grouped by fields of the index is answered by SQLite's GROUP BY over the index.
//
// Each pushdown first checks, by index seeks, that the data are what it relies on, and
// otherwise leaves the query to the full scan: no array where an equality is pushed (MongoDB's
// equality also matches an array holding the value, which a WHERE on the text would miss), and,
// where the order is read from the index, that every value of the sort field is a JSON number
// of 13 digits (dates from 2001-09-09 to 2286-11-20, as milliseconds: text order is then the
// numeric order). What a seek cannot tell: a 13-digit number that is not a date, or a number of
// another length among them; fields sorted through an index must hold dates only.
//
// FERRETDB_LOCAL_INDEX_PUSHDOWN=0 turns all of it off.

var indexPushdown = os.Getenv("FERRETDB_LOCAL_INDEX_PUSHDOWN") != "0"

// plainField: the field names whose index expression this file writes exactly as FerretDB does.
var plainField = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// The text range of 13-digit JSON numbers, and of JSON arrays (`[` up to, excluding, `\`).
const (
	minMillis = "1000000000000"
	maxMillis = "9999999999999"
)

// Query implements backends.Collection interface.
func (c *collection) Query(ctx context.Context, params *backends.QueryParams) (*backends.QueryResult, error) {
	if !indexPushdown || params == nil || params.Index == nil || params.OnlyRecordIDs {
		return c.queryScan(ctx, params)
	}
	if where, _ := idWhere(params.Filter); where != "" {
		return c.queryScan(ctx, params) // read by _id: already through an index
	}
	db := c.r.DatabaseGetExisting(ctx, c.dbName)
	meta := c.r.CollectionGet(ctx, c.dbName, c.name)
	if db == nil || meta == nil || meta.Capped() {
		return c.queryScan(ctx, params)
	}
	if len(params.Index.CountBy) > 0 {
		res, err := countByIndex(ctx, db, meta, params)
		if res != nil || err != nil {
			return res, err
		}
	}
	res, err := readByIndex(ctx, db, meta, params)
	if res != nil || err != nil {
		return res, err
	}
	return c.queryScan(ctx, params)
}

func fieldExpr(field string) string {
	return fmt.Sprintf("%s->%q", metadata.DefaultColumn, field)
}

// equalities: the filter's top-level `{field: "string"}` conditions, as JSON text.
func equalities(filter *types.Document) map[string]string {
	eq := map[string]string{}
	if filter == nil {
		return eq
	}
	for _, key := range filter.Keys() {
		v := must.NotFail(filter.Get(key))
		if s, ok := v.(string); ok && key != "_id" && plainField.MatchString(key) {
			eq[key] = string(must.NotFail(sjson.MarshalSingleValue(s)))
		}
	}
	return eq
}

// plan is an index that can serve a query: its leading fields with an equality (prefix),
// the field after them (next), and how many rows the prefix selects, counted up to estimateCap.
type plan struct {
	index    string // the SQLite index
	prefix   []string
	next     string
	estimate int
}

// estimateCap bounds the index entries read to compare the selectivity of candidate indexes.
const estimateCap = 1000

// candidates: the indexes whose leading fields hold equalities of eq, or whose first field is
// sortField.
func candidates(meta *metadata.Collection, eq map[string]string, sortField string) []plan {
	var plans []plan
	for _, index := range meta.Settings.Indexes {
		usable := true
		for _, key := range index.Key {
			usable = usable && plainField.MatchString(key.Field)
		}
		if !usable {
			continue
		}
		p := plan{index: meta.TableName + "_" + index.Name}
		for _, key := range index.Key {
			if eq[key.Field] == "" {
				p.next = key.Field
				break
			}
			p.prefix = append(p.prefix, key.Field)
		}
		if len(p.prefix) > 0 || (sortField != "" && p.next == sortField) {
			plans = append(plans, p)
		}
	}
	return plans
}

// choose: of the candidates, the one whose prefix selects the fewest rows (an index seek and
// at most estimateCap entries each); among equals, one already ordered by sortField, then the
// longest prefix.
func choose(ctx context.Context, db *fsql.DB, table string, plans []plan, eq map[string]string, sortField string) (plan, bool, error) {
	var best plan
	found := false
	for _, p := range plans {
		p.estimate = estimateCap
		if len(p.prefix) > 0 {
			where, args := prefixWhere(p, eq, len(p.prefix))
			q := fmt.Sprintf("SELECT count(*) FROM (SELECT 1 FROM %q INDEXED BY %q%s LIMIT %d)",
				table, p.index, and(where), estimateCap)
			if err := db.QueryRowContext(ctx, q, args...).Scan(&p.estimate); err != nil {
				return plan{}, false, lazyerrors.Error(err)
			}
		}
		better := !found || p.estimate < best.estimate
		if found && p.estimate == best.estimate {
			ordered, bestOrdered := p.next == sortField, best.next == sortField
			better = (ordered && !bestOrdered) ||
				(ordered == bestOrdered && len(p.prefix) > len(best.prefix))
		}
		if better {
			best, found = p, true
		}
	}
	return best, found, nil
}

// prefixWhere: `expr1 = ? AND expr2 = ?` for the first n fields of the prefix.
func prefixWhere(p plan, eq map[string]string, n int) (string, []any) {
	conds := make([]string, 0, n)
	args := make([]any, 0, n)
	for _, field := range p.prefix[:n] {
		conds = append(conds, fieldExpr(field)+" = ?")
		args = append(args, eq[field])
	}
	return strings.Join(conds, " AND "), args
}

func and(conds ...string) string {
	kept := make([]string, 0, len(conds))
	for _, c := range conds {
		if c != "" {
			kept = append(kept, c)
		}
	}
	if len(kept) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(kept, " AND ")
}

// anyExist: whether any of the conditions holds for some row, one index seek each.
func anyExist(ctx context.Context, db *fsql.DB, table string, conds []string, args [][]any) (bool, error) {
	parts := make([]string, len(conds))
	var all []any
	for i, cond := range conds {
		parts[i] = fmt.Sprintf("EXISTS (SELECT 1 FROM %q%s)", table, and(cond))
		all = append(all, args[i]...)
	}
	var found bool
	q := "SELECT " + strings.Join(parts, " OR ")
	if err := db.QueryRowContext(ctx, q, all...).Scan(&found); err != nil {
		return false, lazyerrors.Error(err)
	}
	return found, nil
}

// arrayFree: that no row under the plan's prefix holds an array in one of its fields.
func arrayFree(ctx context.Context, db *fsql.DB, table string, p plan, eq map[string]string) (bool, error) {
	conds := make([]string, len(p.prefix))
	args := make([][]any, len(p.prefix))
	for i, field := range p.prefix {
		where, a := prefixWhere(p, eq, i)
		array := fieldExpr(field) + ` >= '[' AND ` + fieldExpr(field) + ` < '\'`
		if where != "" {
			array = where + " AND " + array
		}
		conds[i], args[i] = array, a
	}
	if len(conds) == 0 {
		return true, nil
	}
	found, err := anyExist(ctx, db, table, conds, args)
	return !found, err
}

// millisOnly: that every row under the prefix holds a 13-digit number in field.
func millisOnly(ctx context.Context, db *fsql.DB, table string, p plan, eq map[string]string, field string) (bool, error) {
	where, a := prefixWhere(p, eq, len(p.prefix))
	expr := fieldExpr(field)
	conds := []string{expr + " IS NULL", expr + " < '" + minMillis + "'", expr + " > '" + maxMillis + "'"}
	args := make([][]any, len(conds))
	for i := range conds {
		if where != "" {
			conds[i] = where + " AND " + conds[i]
		}
		args[i] = a
	}
	found, err := anyExist(ctx, db, table, conds, args)
	return !found, err
}

// sortOf: the first field of a find's sort and whether it is descending; "" when the sort is
// not one this file can read from an index.
func sortOf(sort *types.Document) (string, bool) {
	if sort == nil || sort.Len() == 0 {
		return "", false
	}
	field := sort.Keys()[0]
	if !plainField.MatchString(field) {
		return "", false
	}
	switch v := must.NotFail(sort.Get(field)).(type) {
	case int64:
		return field, v < 0
	case int32:
		return field, v < 0
	case float64:
		return field, v < 0
	}
	return "", false
}

// timeBounds: an inclusive range on field that every row the filter matches lies in, from
// `{field: {$gt|$gte|$lt|$lte: date}}` and a keyset `$or` each of whose branches bounds field
// from above; as text of 13-digit milliseconds, "" where unbounded.
func timeBounds(filter *types.Document, field string) (low, high string) {
	if filter == nil {
		return "", ""
	}
	lower := func(t time.Time) {
		if s := millisText(t); s != "" && (low == "" || s > low) {
			low = s
		}
	}
	upper := func(t time.Time) {
		if s := millisText(t); s != "" && (high == "" || s < high) {
			high = s
		}
	}
	if ops, ok := must.NotFail(filterGet(filter, field)).(*types.Document); ok {
		for _, op := range ops.Keys() {
			t, isTime := must.NotFail(ops.Get(op)).(time.Time)
			if !isTime {
				continue
			}
			switch op {
			case "$gt", "$gte":
				lower(t)
			case "$lt", "$lte":
				upper(t)
			}
		}
	}
	branches, ok := must.NotFail(filterGet(filter, "$or")).(*types.Array)
	if !ok || branches.Len() == 0 {
		return low, high
	}
	var most time.Time
	for i := range branches.Len() {
		branch, ok := must.NotFail(branches.Get(i)).(*types.Document)
		if !ok {
			return low, high
		}
		t, bounded := branchUpper(branch, field)
		if !bounded {
			return low, high
		}
		if t.After(most) {
			most = t
		}
	}
	upper(most)
	return low, high
}

// branchUpper: the date a `$or` branch bounds field by from above (`field: date`, or
// `field: {$lt|$lte: date}`), if it does.
func branchUpper(branch *types.Document, field string) (time.Time, bool) {
	v, err := branch.Get(field)
	if err != nil {
		return time.Time{}, false
	}
	if t, ok := v.(time.Time); ok {
		return t, true
	}
	ops, ok := v.(*types.Document)
	if !ok {
		return time.Time{}, false
	}
	for _, op := range []string{"$lt", "$lte"} {
		if t, ok := ops.Map()[op].(time.Time); ok {
			return t, true
		}
	}
	return time.Time{}, false
}

// filterGet: filter[key], or nil when absent.
func filterGet(filter *types.Document, key string) (any, error) {
	v, err := filter.Get(key)
	if err != nil {
		return nil, nil
	}
	return v, nil
}

// millisText: a date's stored JSON text when it has 13 digits, else "".
func millisText(t time.Time) string {
	s := fmt.Sprint(t.UnixMilli())
	if len(s) != len(minMillis) || s < minMillis {
		return ""
	}
	return s
}

// readByIndex: a find's rows read through an index, or nil when no index serves it.
func readByIndex(ctx context.Context, db *fsql.DB, meta *metadata.Collection, params *backends.QueryParams) (*backends.QueryResult, error) {
	eq := equalities(params.Filter)
	table := meta.TableName
	sortField, desc := sortOf(params.Index.Sort)
	if params.Index.Need <= 0 {
		sortField = ""
	}
	p, found, err := choose(ctx, db, table, candidates(meta, eq, sortField), eq, sortField)
	if err != nil || !found {
		return nil, err
	}
	if free, err := arrayFree(ctx, db, table, p, eq); err != nil || !free {
		return nil, err
	}
	ordered := false
	if sortField != "" {
		if ordered, err = millisOnly(ctx, db, table, p, eq, sortField); err != nil {
			return nil, err
		}
	}
	if !ordered && len(p.prefix) == 0 {
		return nil, nil // nothing to push: the scan it would be anyway
	}
	where, args := prefixWhere(p, eq, len(p.prefix))
	conds := []string{where}
	order := ""
	if ordered {
		low, high := timeBounds(params.Filter, sortField)
		if low != "" {
			conds = append(conds, fieldExpr(sortField)+" >= ?")
			args = append(args, low)
		}
		if high != "" {
			conds = append(conds, fieldExpr(sortField)+" <= ?")
			args = append(args, high)
		}
		direction := ""
		if desc {
			direction = " DESC"
		}
		order = " ORDER BY " + fieldExpr(sortField) + direction
	}
	q := prepareSelectClause(table, params.Comment, false, false) + and(conds...) + order
	rows, err := db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, lazyerrors.Error(err)
	}
	return &backends.QueryResult{
		Iter:         newQueryIterator(ctx, rows, false),
		IndexOrdered: ordered,
	}, nil
}

// countByIndex: a counting $group answered from an index whose leading fields are the
// match's equalities followed by the group's fields, or nil when there is none or a group
// value is not a string or null (which this file does not decode). SQLite reads an indexed
// expression's value from the table row, not the index, so a GROUP BY would parse every
// document; instead each group is found by one index seek (the next distinct value, in index
// order) and counted by a WHERE that the index answers alone.
func countByIndex(ctx context.Context, db *fsql.DB, meta *metadata.Collection, params *backends.QueryParams) (*backends.QueryResult, error) {
	eq := equalities(params.Filter)
	if params.Filter != nil && len(eq) != params.Filter.Len() {
		return nil, nil // a condition SQLite would not apply: leave it to the handler
	}
	hint := params.Index
	groups := map[string]bool{}
	for _, key := range hint.CountBy {
		groups[key.Field] = true
	}
	var p plan
	var order []string // the group fields in the index's order
	for _, index := range meta.Settings.Indexes {
		n := len(eq)
		if len(index.Key) < n+len(groups) {
			continue
		}
		fits := true
		var fields []string
		for i, key := range index.Key[:n+len(groups)] {
			held := eq[key.Field] != ""
			if i >= n {
				held = groups[key.Field] && !key.Descending
				fields = append(fields, key.Field)
			}
			fits = fits && held && plainField.MatchString(key.Field)
		}
		if !fits || len(fields) != len(groups) {
			continue
		}
		p = plan{prefix: make([]string, n)}
		for j := range n {
			p.prefix[j] = index.Key[j].Field
		}
		order = fields
		break
	}
	if order == nil {
		return nil, nil
	}
	free, err := arrayFree(ctx, db, meta.TableName, p, eq)
	if err != nil || !free {
		return nil, err
	}
	counter := groupCounter{ctx: ctx, db: db, table: meta.TableName, order: order}
	counter.where, counter.args = prefixWhere(p, eq, len(p.prefix))
	counts, ok, err := counter.all()
	if err != nil || !ok {
		return nil, err
	}
	docs := make([]*types.Document, 0, len(counts))
	for _, c := range counts {
		id := types.MakeDocument(len(hint.CountBy))
		for _, key := range hint.CountBy {
			id.Set(key.Name, c.values[key.Field])
		}
		var count any = c.n
		if c.n <= math.MaxInt32 {
			count = int32(c.n)
		}
		docs = append(docs, must.NotFail(types.NewDocument("_id", id, hint.CountAs, count)))
	}
	return &backends.QueryResult{
		Iter:         iterator.Values(iterator.ForSlice(docs)),
		IndexCounted: true,
	}, nil
}

// groupCounter walks the distinct values of order (fields of an index, after the prefix that
// where selects), in index order, and counts the rows of each.
type groupCounter struct {
	ctx   context.Context
	db    *fsql.DB
	table string
	where string
	args  []any
	order []string
}

type groupCount struct {
	values map[string]any
	n      int64
}

// all: every group and its count; false when a value is one this file does not decode.
func (g *groupCounter) all() ([]groupCount, bool, error) {
	var counts []groupCount
	texts, found, err := g.next(nil)
	for ; found && err == nil; texts, found, err = g.next(texts) {
		c := groupCount{values: map[string]any{}}
		for i, field := range g.order {
			v, ok := decodeScalar(texts[i])
			if !ok {
				return nil, false, nil
			}
			c.values[field] = v
		}
		conds, args := []string{g.where}, append([]any{}, g.args...)
		for i, field := range g.order {
			conds = append(conds, fieldExpr(field)+" = ?")
			args = append(args, *texts[i])
		}
		q := fmt.Sprintf("SELECT count(*) FROM %q%s", g.table, and(conds...))
		if err = g.db.QueryRowContext(g.ctx, q, args...).Scan(&c.n); err != nil {
			return nil, false, lazyerrors.Error(err)
		}
		counts = append(counts, c)
	}
	if err != nil {
		return nil, false, err
	}
	return counts, true, nil
}

// next: the group after the one of texts (the first with nil), in index order. A missing
// field (SQL NULL) sorts first: found with a nil text, it ends the walk through decodeScalar.
func (g *groupCounter) next(texts []*string) ([]*string, bool, error) {
	exprs := make([]string, len(g.order))
	for i, field := range g.order {
		exprs[i] = fieldExpr(field)
	}
	levels := []int{0}
	if texts != nil {
		levels = levels[:0]
		for level := len(g.order) - 1; level >= 0; level-- {
			levels = append(levels, level)
		}
	}
	for _, level := range levels {
		conds, args := []string{g.where}, append([]any{}, g.args...)
		if texts != nil {
			for i := range level {
				conds = append(conds, exprs[i]+" = ?")
				args = append(args, *texts[i])
			}
			conds = append(conds, exprs[level]+" > ?")
			args = append(args, *texts[level])
		}
		q := fmt.Sprintf("SELECT %s FROM %q%s ORDER BY %s LIMIT 1", strings.Join(exprs, ", "),
			g.table, and(conds...), strings.Join(exprs[level:], ", "))
		found := make([]*string, len(exprs))
		dest := make([]any, len(exprs))
		for i := range found {
			dest[i] = &found[i]
		}
		err := g.db.QueryRowContext(g.ctx, q, args...).Scan(dest...)
		if errors.Is(err, sql.ErrNoRows) {
			continue
		}
		if err != nil {
			return nil, false, lazyerrors.Error(err)
		}
		return found, true, nil
	}
	return nil, false, nil
}

// decodeScalar: a JSON string or null, from its text.
func decodeScalar(text *string) (any, bool) {
	if text == nil {
		return nil, false // field missing: the handler's grouping decides what that means
	}
	if *text == "null" {
		return types.Null, true
	}
	var s string
	if strings.HasPrefix(*text, `"`) && json.Unmarshal([]byte(*text), &s) == nil {
		return s, true
	}
	return nil, false
}
