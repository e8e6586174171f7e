// This file is not part of the wrapper's own package: provisioning copies it into FerretDB's
// handler package (internal/handler), renames FerretDB's updateDocument (the loop over an
// update command's statements) to updateStatements and points each statement's collection
// at the batch below. See local_infra/provision.py.

package handler

import (
	"context"
	"strings"
	"sync"

	"github.com/FerretDB/FerretDB/internal/backends"
	"github.com/FerretDB/FerretDB/internal/handler/common"
	"github.com/FerretDB/FerretDB/internal/handler/sjson"
	"github.com/FerretDB/FerretDB/internal/types"
	"github.com/FerretDB/FerretDB/internal/util/lazyerrors"
)

// updateDocument runs an update command's statements, writing the documents they change in
// one SQLite transaction instead of one each. FerretDB v1 committed every changed document
// on its own: about a millisecond apiece here, most of it the commit and the WAL checkpoints
// that many small commits bring, against a few hundredths of a millisecond for a document
// of an insert, which already goes in one transaction.
//
// Update commands on one collection run one at a time, reads and writes together. FerretDB
// reads a statement's document in one transaction and writes it in another, so two
// concurrent statements could both match a compare-and-set filter (`{_id, revision}`) and
// both write; with the writes held to the command's end that window would span the command.
// The lock closes it for update commands (a delete or findAndModify still runs beside them,
// as in FerretDB). SQLite takes one writer at a time anyway.
//
// Each statement still reads the stored document and applies its filter and update as
// before; a statement that could read a document changed earlier in the same command (its
// filter names that _id, or no _id at all) first writes what is pending, so it reads what
// MongoDB would; an upsert's insert writes what is pending first, so writes keep their
// order. A command that fails writes what its earlier statements changed, as it did.
func (h *Handler) updateDocument(ctx context.Context, params *common.UpdateParams) (int32, int32, *types.Array, error) { //nolint:lll // FerretDB's signature
	lock := updateLock(params.DB, params.Collection)
	lock.Lock()
	defer lock.Unlock()

	batch := &updateBatch{pending: map[string]*types.Document{}}
	matched, modified, upserted, err := h.updateStatements(ctx, params, batch)

	if ferr := batch.flush(ctx); ferr != nil {
		if err != nil { // the statement's own error is the command's answer
			h.L.ErrorContext(ctx, "ferretdb-local: writing an update command's changes", "error", ferr)
			return 0, 0, nil, err
		}

		return 0, 0, nil, lazyerrors.Error(ferr)
	}

	return matched, modified, upserted, err
}

// updateLocks: one mutex per "database.collection", made on first use.
var updateLocks sync.Map

func updateLock(db, collection string) *sync.Mutex {
	lock, _ := updateLocks.LoadOrStore(db+"."+collection, new(sync.Mutex))
	return lock.(*sync.Mutex)
}

// updateBatch is the collection each statement of one update command reads and writes
// through: updates wait in pending, keyed by their marshaled _id, until a read might see one
// of them, an insert comes, or the command ends.
type updateBatch struct {
	backends.Collection
	pending map[string]*types.Document
	order   []string
}

// over makes the batch a view of c, the collection of the statement about to run.
func (b *updateBatch) over(c backends.Collection) backends.Collection {
	b.Collection = c
	return b
}

// Query writes what is pending first unless the filter's _id keeps it off every pending
// document.
func (b *updateBatch) Query(ctx context.Context, params *backends.QueryParams) (*backends.QueryResult, error) { //nolint:lll // FerretDB's signature
	if len(b.pending) > 0 && !b.disjoint(params.Filter) {
		if err := b.flush(ctx); err != nil {
			return nil, lazyerrors.Error(err)
		}
	}

	return b.Collection.Query(ctx, params)
}

// InsertAll (an upsert) writes what is pending first.
func (b *updateBatch) InsertAll(ctx context.Context, params *backends.InsertAllParams) (*backends.InsertAllResult, error) { //nolint:lll // FerretDB's signature
	if err := b.flush(ctx); err != nil {
		return nil, lazyerrors.Error(err)
	}

	return b.Collection.InsertAll(ctx, params)
}

// UpdateAll keeps the documents for the next flush. Its count, like the backend's, is of
// the documents given: the caller reads none of it.
func (b *updateBatch) UpdateAll(ctx context.Context, params *backends.UpdateAllParams) (*backends.UpdateAllResult, error) { //nolint:lll // FerretDB's signature
	for _, doc := range params.Docs {
		id, _ := doc.Get("_id")

		key, ok := idKey(id)
		if !ok { // written now, in order, after what is pending
			if err := b.flush(ctx); err != nil {
				return nil, lazyerrors.Error(err)
			}

			single := &backends.UpdateAllParams{Docs: []*types.Document{doc}}
			if _, err := b.Collection.UpdateAll(ctx, single); err != nil {
				return nil, lazyerrors.Error(err)
			}

			continue
		}

		if _, seen := b.pending[key]; !seen {
			b.order = append(b.order, key)
		}

		b.pending[key] = doc
	}

	return &backends.UpdateAllResult{Updated: int32(len(params.Docs))}, nil
}

// flush writes the pending documents in one backend UpdateAll: one transaction.
func (b *updateBatch) flush(ctx context.Context) error {
	if len(b.pending) == 0 {
		return nil
	}

	docs := make([]*types.Document, 0, len(b.order))
	for _, key := range b.order {
		docs = append(docs, b.pending[key])
	}

	b.pending = map[string]*types.Document{}
	b.order = nil

	if _, err := b.Collection.UpdateAll(ctx, &backends.UpdateAllParams{Docs: docs}); err != nil {
		return lazyerrors.Error(err)
	}

	return nil
}

// disjoint: the filter's _id is a value or an $in of values, none of them pending. Any other
// filter could match a pending document.
func (b *updateBatch) disjoint(filter *types.Document) bool {
	if filter == nil {
		return false
	}

	id, err := filter.Get("_id")
	if err != nil {
		return false
	}

	cond, isDoc := id.(*types.Document)
	if !isDoc || !hasOperator(cond) {
		return b.notPending(id)
	}

	if cond.Len() != 1 {
		return false
	}

	in, err := cond.Get("$in")
	if err != nil {
		return false
	}

	values, ok := in.(*types.Array)
	if !ok {
		return false
	}

	for i := 0; i < values.Len(); i++ {
		v, _ := values.Get(i)
		if !b.notPending(v) {
			return false
		}
	}

	return true
}

// notPending: id is a key idKey can compare and no pending document has it.
func (b *updateBatch) notPending(id any) bool {
	key, ok := idKey(id)
	if !ok {
		return false
	}

	_, pending := b.pending[key]

	return !pending
}

func hasOperator(d *types.Document) bool {
	for _, key := range d.Keys() {
		if strings.HasPrefix(key, "$") {
			return true
		}
	}

	return false
}

// idKey: a string or ObjectID _id as the backend stores it; false for other types, where
// MongoDB's equality is not the stored text's (1 and 1.0 are the same _id).
func idKey(id any) (string, bool) {
	switch id.(type) {
	case string, types.ObjectID:
	default:
		return "", false
	}

	b, err := sjson.MarshalSingleValue(id)
	if err != nil {
		return "", false
	}

	return string(b), true
}
