// This file is not part of the wrapper's own package: provisioning copies it into FerretDB's
// handler package (internal/handler), where find and aggregate pass the hints built here to
// the backend, and find reads an index-ordered answer through indexBounded. See
// local_infra/provision.py and index_pushdown.go.

package handler

import (
	"errors"
	"os"
	"strings"

	"github.com/FerretDB/FerretDB/internal/backends"
	"github.com/FerretDB/FerretDB/internal/handler/common"
	"github.com/FerretDB/FerretDB/internal/types"
	"github.com/FerretDB/FerretDB/internal/util/iterator"
)

// scanComment, anywhere in a command's comment, turns the index pushdown off for that command:
// the tests compare what an indexed read answers with what a full scan answers.
const scanComment = "ferretdb-local:scan"

// indexPushdownOn: what buildInfo reports as ferretdbFeatures.indexPushdown, for clients to
// decide whether secondary indexes are worth their write cost (see index_pushdown.go).
func indexPushdownOn() bool {
	return os.Getenv("FERRETDB_LOCAL_INDEX_PUSHDOWN") != "0"
}

// findIndexHint: the hint of a find whose sort and limit let the backend stop early.
func findIndexHint(params *common.FindParams) *backends.IndexHint {
	if strings.Contains(params.Comment, scanComment) {
		return nil
	}
	hint := new(backends.IndexHint)
	if params.Limit > 0 && params.Sort.Len() > 0 && params.Sort.Keys()[0] != "$natural" {
		hint.Sort = params.Sort
		hint.Need = params.Skip + params.Limit
	}
	return hint
}

// countIndexHint: the hint of an aggregate whose pipeline is exactly [{$match}, {$group}] with
// a group _id of top-level fields ({name: "$field", ...}) and one accumulator {$sum: 1}.
func countIndexHint(command *types.Document, stages []any) *backends.IndexHint {
	if comment, _ := command.Get("comment"); comment != nil {
		if s, ok := comment.(string); ok && strings.Contains(s, scanComment) {
			return nil
		}
	}
	hint := new(backends.IndexHint)
	if len(stages) != 2 {
		return hint
	}
	match, ok1 := stages[0].(*types.Document)
	group, ok2 := stages[1].(*types.Document)
	if !ok1 || !ok2 || match.Len() != 1 || group.Len() != 1 {
		return hint
	}
	if _, err := match.Get("$match"); err != nil {
		return hint
	}
	spec, err := group.Get("$group")
	if err != nil {
		return hint
	}
	groupDoc, ok := spec.(*types.Document)
	if !ok || groupDoc.Len() != 2 || groupDoc.Keys()[0] != "_id" {
		return hint
	}
	id, ok := groupDoc.Map()["_id"].(*types.Document)
	if !ok || id.Len() == 0 {
		return hint
	}
	keys := make([]backends.CountKey, 0, id.Len())
	for _, name := range id.Keys() {
		path, ok := id.Map()[name].(string)
		field := strings.TrimPrefix(path, "$")
		if !ok || !strings.HasPrefix(path, "$") || field == "" || strings.ContainsAny(field, ".$") {
			return hint
		}
		keys = append(keys, backends.CountKey{Name: name, Field: field})
	}
	countAs := groupDoc.Keys()[1]
	sum, ok := groupDoc.Map()[countAs].(*types.Document)
	if !ok || sum.Len() != 1 || sum.Keys()[0] != "$sum" || !isOne(sum.Map()["$sum"]) {
		return hint
	}
	hint.CountBy, hint.CountAs = keys, countAs
	return hint
}

func isOne(v any) bool {
	switch v := v.(type) {
	case int32:
		return v == 1
	case int64:
		return v == 1
	case float64:
		return v == 1
	default:
		return false
	}
}

// indexBounded reads an answer the backend returned ordered by the sort's first field
// (IndexOrdered): the first Need rows that match the filter, then every further matching row
// tied with the last of them on that field, and no more. The handler then filters, sorts,
// skips and limits these as it would the whole collection: the rows it keeps are among them,
// whatever the order of ties (the rest of the sort decides those, in memory).
func indexBounded(res *backends.QueryResult, params *common.FindParams) types.DocumentsIterator {
	if !res.IndexOrdered {
		return res.Iter
	}
	defer res.Iter.Close()
	first := params.Sort.Keys()[0]
	need := params.Skip + params.Limit
	var kept []*types.Document
	var last any
	for {
		_, doc, err := res.Iter.Next()
		if errors.Is(err, iterator.ErrIteratorDone) {
			break
		}
		if err != nil {
			return failing(err)
		}
		if params.Filter != nil {
			matches, err := common.FilterDocument(doc, params.Filter)
			if err != nil {
				return failing(err)
			}
			if !matches {
				continue
			}
		}
		value, _ := doc.Get(first) // the backend orders by index only where every row has it
		if int64(len(kept)) >= need && types.CompareOrder(value, last, types.Ascending) != types.Equal {
			break
		}
		kept = append(kept, doc)
		last = value
	}
	return iterator.Values(iterator.ForSlice(kept))
}

// failing is an iterator whose first Next returns err.
func failing(err error) types.DocumentsIterator {
	return iterator.ForFunc(func() (struct{}, *types.Document, error) {
		return struct{}{}, nil, err
	})
}
