// Command ferretdb-local serves the MongoDB wire protocol on a local port with FerretDB v1's
// SQLite backend. It embeds github.com/FerretDB/FerretDB/ferretdb because a plain
// `go install` of FerretDB's own command panics without its build-time version file.
package main

import (
	"context"
	"database/sql"
	"flag"
	"log"
	"log/slog"
	"net/http"
	_ "net/http/pprof" // served only with -pprof-addr, for profiling under a benchmark
	"net/url"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
	"time"

	"github.com/FerretDB/FerretDB/ferretdb"
)

func main() {
	listen := flag.String("listen-addr", "127.0.0.1:27017", "TCP address to listen on")
	dir := flag.String("sqlite-dir", "./data/", "directory of the SQLite databases")
	level := flag.String("log-level", "warn", "debug, info, warn or error")
	sweep := flag.Duration("id-index-sweep", 200*time.Millisecond,
		"how often to add the _id path index to new collections (0 disables; see idindex.go)")
	synchronous := flag.String("sqlite-synchronous", "normal",
		"SQLite's synchronous pragma: full syncs the write-ahead log on every commit, normal "+
			"at checkpoints (an OS crash may lose the last commits; a process crash loses none)")
	pprofAddr := flag.String("pprof-addr", "", "serve Go's /debug/pprof on this address")
	gcPercent := flag.Int("gc-percent", 400,
		"collect garbage when the heap has grown by this percentage since the last collection "+
			"(Go's default of 100 spent about a tenth of the server's CPU under updates, for a "+
			"heap of a few MB); a GOGC environment variable wins")
	flag.Parse()

	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(*gcPercent)
	}

	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(*level)); err != nil {
		log.Fatalf("bad -log-level: %v", err)
	}
	if err := os.MkdirAll(*dir, 0o755); err != nil {
		log.Fatal(err)
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: lvl}))

	f, err := ferretdb.New(&ferretdb.Config{
		Listener:  ferretdb.ListenerConfig{TCP: *listen},
		Logger:    logger,
		Handler:   "sqlite",
		SQLiteURL: sqliteURL(*dir, *synchronous),
	})
	if err != nil {
		log.Fatal(err)
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if *pprofAddr != "" {
		go func() { logger.Warn("pprof", "error", http.ListenAndServe(*pprofAddr, nil)) }()
	}
	if *sweep > 0 {
		keeper := &idIndexKeeper{dir: *dir, logger: logger, dbs: map[string]*sql.DB{}}
		go keeper.run(ctx, *sweep)
	}
	logger.Warn("ferretdb-local listening", "addr", *listen, "dir", *dir)
	f.Run(ctx)
}

// sqliteURL is FerretDB's SQLite URL for dir with the synchronous pragma; FerretDB adds its
// own (busy timeout, WAL, no auto-vacuum) after it. Temporary files stay in memory: an
// update command's statements share one transaction, and SQLite keeps a statement journal
// for each UPDATE (to undo that statement alone), which it spilled to a temporary file.
func sqliteURL(dir, synchronous string) string {
	pragmas := []string{"synchronous(" + synchronous + ")", "temp_store(memory)"}
	return "file:" + dir + "?" + url.Values{"_pragma": pragmas}.Encode()
}
