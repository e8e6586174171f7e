// ferretdb-local: FerretDB tracks the lifetime of every iterator, SQL row set, transaction
// and cursor it opens (resource.Track): a finalizer that panics if the object is never
// closed, and an entry in a pprof profile named after its type. Adding that entry captures
// the caller's stack: 13% of the server's CPU under updates. This build keeps the finalizer
// (a leak still stops the server) and leaves the profiles empty.

package resource

// profiled is false: Track and Untrack skip the pprof profile (see the edits in
// local_infra's provision.py).
const profiled = false
