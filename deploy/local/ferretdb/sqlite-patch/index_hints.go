// This file is not part of the wrapper's own package: provisioning copies it into FerretDB's
// backends package (internal/backends) and adds the fields below to QueryParams and
// QueryResult. See local_infra/provision.py and index_pushdown.go.

package backends

import "github.com/FerretDB/FerretDB/internal/types"

// IndexHint tells the SQLite backend what the handler will do with a query's rows, so that it
// can read them through an index the collection has. The handler still applies the whole
// filter, sort, skip and limit to what the backend returns, so a hint never changes an
// answer: it only lets the backend return fewer rows, or rows already counted.
type IndexHint struct {
	// Sort is a find's sort document, set with Need > 0: the handler will keep the first Need
	// rows, in that order, of those matching the filter.
	Sort *types.Document
	Need int64

	// CountBy, for a pipeline that is only {$match} and {$group} counting documents: the
	// _id fields of the group (output name and source field), and the count's output name.
	CountBy []CountKey
	CountAs string
}

// CountKey is one field of a counting $group's _id: {Name: "$Field"}.
type CountKey struct {
	Name  string
	Field string
}
