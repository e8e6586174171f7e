// ferretdb-local: FerretDB tracks the lifetime of every iterator and document iterator it
// creates (resource.Track): a pprof profile entry with the caller's stack, and a finalizer
// that panics if the object is never closed. That is a leak detector for FerretDB's own
// tests. Under an update-heavy load the stack captures alone were about 14% of the server's
// CPU (runtime.Callers under pprof.(*Profile).Add), so this build does not track.

package resource

// tracking is false: Track and Untrack return at once (see the edits in local_infra's
// provision.py).
const tracking = false
