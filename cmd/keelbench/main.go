// Command keelbench load-tests a fresh Keel and prints its figures as
// Markdown: one table of every measured run, then the targets of issue 3
// with whether each was met.
//
// It starts `keel serve` (built beforehand by `make bench`) on a free port
// with a temporary data directory and its embedded redis-server, signs in as
// admin, creates API tokens with `keel token create`, seeds audit entries
// and configuration keys straight into the embedded Redis (10,000 keys in
// development, 1,000 in staging), starts a Go net/http hello world in
// process as a reference, and then measures, one after another:
//
//   - GET /healthz, the baseline: routing and middleware only;
//   - GET /login, the sign-in page;
//   - GET /audit, the audit page, as the signed-in admin;
//   - GET /api/v1/audit?limit=50 with an admin token;
//   - GET /configs?env=development, the config list page, as the admin;
//   - GET /api/v1/envs/staging/configs with a viewer token: the full body,
//     then If-None-Match with the ETag (304);
//   - GET / on the hello world, with the same load generator and connections;
//   - audit appends: concurrent store.RecordEvent calls against the same Redis;
//   - change propagation: 100 SDK clients watch staging while one key is
//     changed 200 times through the API, one PUT every 20 ms; each client's
//     OnChange records when it saw each value;
//   - the SDK's String read, with testing.Benchmark on one of those clients.
//
// It exits non-zero when a scenario has more than 1% errors (a missed
// target only shows as "no" in the targets table), and stops Keel with
// SIGTERM at the end.
package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"html"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/keelhq/keel/internal/loadgen"
	"github.com/keelhq/keel/redisproc"
	"github.com/keelhq/keel/store"
	"github.com/redis/go-redis/v9"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "keelbench:", err)
		os.Exit(1)
	}
}

// The environments the configuration scenarios use (Keel creates both at
// start; neither inherits from another).
const (
	pageEnv = "development"
	apiEnv  = "staging"
)

type options struct {
	keel           string
	conns          int
	duration       time.Duration
	warmup         time.Duration
	appendDuration time.Duration
	seed           int
	pageKeys       int
	apiKeys        int
	watchers       int
	changes        int
	changeEvery    time.Duration
	only           *regexp.Regexp
	keep           bool
	maxErrorRate   float64
}

// selected reports whether the scenario called name is to run.
func (o options) selected(name string) bool {
	return o.only == nil || o.only.MatchString(name)
}

// Row ids, for the targets table.
const (
	idPage    = "page"
	idAPIFull = "api-full"
	idAPI304  = "api-304"
	idHello   = "hello"
)

// row is one line of the results table.
type row struct {
	id       string
	scenario string
	conns    int
	res      loadgen.Result
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("keelbench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o options
	var only string
	fs.StringVar(&o.keel, "keel", "bin/keel", "the Keel binary to start")
	fs.IntVar(&o.conns, "conns", 50, "concurrent connections (and appending goroutines)")
	fs.DurationVar(&o.duration, "duration", 10*time.Second, "measured time of each HTTP scenario")
	fs.DurationVar(&o.warmup, "warmup", time.Second, "unmeasured load before each HTTP scenario")
	fs.DurationVar(&o.appendDuration, "append-duration", 5*time.Second, "measured time of the audit-append scenario")
	fs.IntVar(&o.seed, "seed", 5000, "audit entries written before measuring")
	fs.IntVar(&o.pageKeys, "page-keys", 10000, "config keys seeded into "+pageEnv+" for the config list page")
	fs.IntVar(&o.apiKeys, "api-keys", 1000, "config keys seeded into "+apiEnv+" for the consumer API and the SDK clients")
	fs.IntVar(&o.watchers, "watchers", 100, "SDK clients watching "+apiEnv+" in the propagation scenario")
	fs.IntVar(&o.changes, "changes", 200, "changes made in the propagation scenario")
	fs.DurationVar(&o.changeEvery, "change-every", 20*time.Millisecond, "time between two changes in the propagation scenario")
	fs.StringVar(&only, "run", "", "run only the scenarios whose name matches this regular expression")
	fs.BoolVar(&o.keep, "keep", false, "keep the temporary data directory and Keel's log")
	fs.Float64Var(&o.maxErrorRate, "max-error-rate", 0.01, "fail when a scenario's error rate is above this")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	if o.conns <= 0 || o.duration <= 0 || o.appendDuration <= 0 || o.watchers <= 0 || o.changes <= 0 || o.changeEvery <= 0 {
		return errors.New("-conns, -duration, -append-duration, -watchers, -changes and -change-every must be positive")
	}
	if o.seed < 0 || o.warmup < 0 || o.pageKeys < 0 || o.apiKeys <= 0 {
		return errors.New("-seed, -warmup and -page-keys must not be negative; -api-keys must be positive (the SDK read uses one)")
	}
	if only != "" {
		re, err := regexp.Compile(only)
		if err != nil {
			return fmt.Errorf("-run: %w", err)
		}
		o.only = re
	}
	keelBin, err := filepath.Abs(o.keel)
	if err != nil {
		return err
	}
	if _, err := os.Stat(keelBin); err != nil {
		return fmt.Errorf("keel binary: %w (run `make build` first)", err)
	}

	printMachine(stdout)

	tmp, err := os.MkdirTemp("", "keel-bench-")
	if err != nil {
		return err
	}
	logf := func(format string, a ...any) { fmt.Fprintf(stderr, "keelbench: "+format+"\n", a...) }
	defer func() {
		if o.keep {
			logf("kept %s", tmp)
			return
		}
		os.RemoveAll(tmp)
	}()

	k, err := startKeel(ctx, keelBin, tmp, logf)
	if err != nil {
		return err
	}
	defer func() {
		if err := k.stop(); err != nil {
			logf("%v", err)
		}
	}()

	sdkLog := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	rep, err := measure(ctx, o, k, logf, sdkLog)
	if err != nil {
		if tail := k.logTail(); tail != "" {
			logf("end of Keel's log (%s):\n%s", k.logPath, tail)
		}
		return err
	}

	printTable(stdout, rep.rows)
	fmt.Fprintln(stdout)
	printTargets(stdout, targets(o, rep))
	var bad []string
	for _, r := range rep.rows {
		if r.res.ErrorRate() > o.maxErrorRate {
			bad = append(bad, fmt.Sprintf("%s: %.2f%% errors", r.scenario, 100*r.res.ErrorRate()))
		}
	}
	if p := rep.propagation; p != nil && p.putErrorRate() > o.maxErrorRate {
		bad = append(bad, fmt.Sprintf("propagation: %d of %d PUTs failed (%s)", p.putErrors, p.puts, p.putSample))
	}
	if len(bad) > 0 {
		return fmt.Errorf("more than %.2g%% errors in: %s", 100*o.maxErrorRate, strings.Join(bad, "; "))
	}
	return nil
}

// httpScenario is one closed-loop HTTP load run.
type httpScenario struct {
	id     string
	name   string
	url    string
	header http.Header
	want   int // the status every answer must have; 0 for 200
	// contains is text the first answer must hold (a seeded key), so a
	// page that shows nothing cannot pass for a fast one.
	contains string
}

func measure(ctx context.Context, o options, k *keel, logf func(string, ...any), sdkLog *slog.Logger) (report, error) {
	var rep report
	session, err := signIn(ctx, k.baseURL, "admin", k.adminPassword)
	if err != nil {
		return rep, fmt.Errorf("sign in: %w", err)
	}
	logf("signed in as admin")

	adminToken, err := k.createToken(ctx, "bench", "admin", "")
	if err != nil {
		return rep, err
	}
	readToken, err := k.createToken(ctx, "bench-reader", "viewer", apiEnv)
	if err != nil {
		return rep, err
	}
	writeToken, err := k.createToken(ctx, "bench-writer", "editor", apiEnv)
	if err != nil {
		return rep, err
	}
	logf("created API tokens bench (admin), bench-reader (viewer, %s) and bench-writer (editor, %s)", apiEnv, apiEnv)

	srv, attached, err := redisproc.Attach(ctx, redisproc.Options{Dir: filepath.Join(k.dataDir, "redis")})
	if err != nil {
		return rep, fmt.Errorf("attach to Keel's embedded redis: %w", err)
	}
	if !attached {
		srv.Stop(context.Background())
		return rep, errors.New("Keel's embedded redis-server is not running in its data directory")
	}
	ropts := srv.ClientOptions()
	ropts.PoolSize = o.conns + 4 // one connection per appending goroutine
	rdb := redis.NewUniversalClient(ropts)
	defer rdb.Close()
	st := store.New(rdb)

	start := time.Now()
	if err := seedAudit(ctx, st, o.seed); err != nil {
		return rep, fmt.Errorf("seed audit entries: %w", err)
	}
	logf("seeded %d audit entries in %s", o.seed, time.Since(start).Round(time.Millisecond))
	for _, s := range []struct {
		env string
		n   int
	}{{pageEnv, o.pageKeys}, {apiEnv, o.apiKeys}} {
		start := time.Now()
		if err := seedConfigs(ctx, st, s.env, s.n); err != nil {
			return rep, fmt.Errorf("seed %s: %w", s.env, err)
		}
		logf("seeded %d config keys into %s in %s", s.n, s.env, time.Since(start).Round(time.Millisecond))
	}

	hello, err := startHello()
	if err != nil {
		return rep, err
	}
	defer hello.Close()

	gzip := http.Header{"Accept-Encoding": {"gzip"}}
	withCookie := gzip.Clone()
	withCookie.Set("Cookie", session.String())
	withAdmin := gzip.Clone()
	withAdmin.Set("Authorization", "Bearer "+adminToken)
	withAdmin.Set("Accept", "application/json")
	withReader := gzip.Clone()
	withReader.Set("Authorization", "Bearer "+readToken)
	withReader.Set("Accept", "application/json")

	consumerURL := k.baseURL + "/api/v1/envs/" + apiEnv + "/configs"
	keys := func(n int) string { return formatRate(float64(n)) + " keys" }
	pageHolds := ""
	if o.pageKeys > 0 {
		pageHolds = seedKey(0)
	}
	scenarios := []httpScenario{
		{"", "GET /healthz (baseline)", k.baseURL + "/healthz", gzip, 0, ""},
		{"", "GET /login (sign-in page)", k.baseURL + "/login", gzip, 0, `name="_csrf"`},
		{"", "GET /audit (audit page, signed in)", k.baseURL + "/audit", withCookie, 0, ""},
		{"", "GET /api/v1/audit?limit=50 (token)", k.baseURL + "/api/v1/audit?limit=50", withAdmin, 0, `"actor":"bench"`},
		{idPage, "GET /configs?env=" + pageEnv + " (config list page, " + keys(o.pageKeys) + ", signed in)",
			k.baseURL + "/configs?env=" + pageEnv, withCookie, 0, pageHolds},
		{idAPIFull, "GET /api/v1/envs/" + apiEnv + "/configs (" + keys(o.apiKeys) + ", full body, token)",
			consumerURL, withReader, 0, seedKey(o.apiKeys - 1)},
		{idAPI304, "GET /api/v1/envs/" + apiEnv + "/configs (" + keys(o.apiKeys) + ", If-None-Match → 304, token)",
			consumerURL, nil, http.StatusNotModified, ""},
		{idHello, "GET / on Go net/http hello world (reference, in process)", hello.URL + "/", gzip, 0, "hello"},
	}
	for _, sc := range scenarios {
		if !o.selected(sc.name) {
			continue
		}
		if sc.id == idAPI304 {
			etag, err := fetchETag(ctx, sc.url, withReader)
			if err != nil {
				return rep, fmt.Errorf("%s: %w", sc.name, err)
			}
			sc.header = withReader.Clone()
			sc.header.Set("If-None-Match", etag)
		}
		r, err := runHTTP(ctx, o, sc, logf)
		if err != nil {
			return rep, err
		}
		rep.rows = append(rep.rows, r)
	}

	const appendName = "audit appends (store.RecordEvent)"
	if o.selected(appendName) {
		logf("measuring audit appends: %d goroutines, %s", o.conns, o.appendDuration)
		res, err := appendLoad(ctx, st, o.conns, o.appendDuration)
		if err != nil {
			return rep, fmt.Errorf("audit appends: %w", err)
		}
		if res.Errors > 0 {
			logf("audit appends: %d errors, sample %q", res.Errors, res.ErrorSample)
		}
		rep.rows = append(rep.rows, row{"", appendName, o.conns, res})
	}

	const propagationName, readName = "change propagation to SDK clients", "SDK String read"
	if o.selected(propagationName) || o.selected(readName) {
		if err := measureSDK(ctx, o, k.baseURL, readToken, writeToken, o.selected(propagationName), o.selected(readName), &rep, logf, sdkLog); err != nil {
			return rep, err
		}
	}
	return rep, nil
}

// runHTTP measures one HTTP scenario after checking one answer, so a wrong
// answer is explained instead of showing up as 100% errors.
func runHTTP(ctx context.Context, o options, sc httpScenario, logf func(string, ...any)) (row, error) {
	want := sc.want
	if want == 0 {
		want = http.StatusOK
	}
	size, err := expectStatus(ctx, sc.url, sc.header, want, sc.contains)
	if err != nil {
		return row{}, fmt.Errorf("%s: %w", sc.name, err)
	}
	logf("measuring %s: %d conns, %s (+%s warm-up); %d-byte body", sc.name, o.conns, o.duration, o.warmup, size)
	res, err := loadgen.Run(ctx, loadgen.Config{
		URL: sc.url, Conns: o.conns, Duration: o.duration, Warmup: o.warmup, Header: sc.header, WantStatus: sc.want,
	})
	if err != nil {
		return row{}, fmt.Errorf("%s: %w", sc.name, err)
	}
	if res.Errors > 0 {
		logf("%s: %d errors, statuses %v, sample %q", sc.name, res.Errors, res.Status, res.ErrorSample)
	}
	return row{sc.id, sc.name, o.conns, res}, nil
}

// measureSDK starts the watching clients, runs the propagation scenario and
// the read benchmark on one of the clients, and closes them.
func measureSDK(ctx context.Context, o options, baseURL, readToken, writeToken string, propagate, readBench bool,
	rep *report, logf func(string, ...any), sdkLog *slog.Logger) error {
	// Each watch stream is one connection on our side; the load generator's
	// connections are closed by now, but leave room for them anyway.
	if err := checkFileLimit(o.watchers + o.conns + 64); err != nil {
		return err
	}
	w := newConfigWriter(baseURL, writeToken, apiEnv)
	defer w.close()
	// The key exists before the clients start, so the changes are updates
	// of a key their first snapshot holds.
	version, err := w.put(ctx, 0, 0)
	if err != nil {
		return fmt.Errorf("create %s: %w", watchKey, err)
	}

	start := time.Now()
	ws, err := startWatchers(baseURL, readToken, apiEnv, o.watchers, o.changes, sdkLog)
	if err != nil {
		return err
	}
	defer ws.close()
	if err := ws.waitConnected(ctx, 60*time.Second); err != nil {
		return fmt.Errorf("SDK clients: %w", err)
	}
	logf("%d SDK clients ready and watching %s after %s", o.watchers, apiEnv, time.Since(start).Round(time.Millisecond))

	if propagate {
		logf("measuring change propagation: %d changes of %s, one every %s", o.changes, watchKey, o.changeEvery)
		p, err := measurePropagation(ctx, ws, w, version, o.changes, o.changeEvery, 10*time.Second)
		if err != nil {
			return fmt.Errorf("change propagation: %w", err)
		}
		if p.missed > 0 || p.putErrors > 0 {
			logf("change propagation: %d of %d deliveries missed; %d of %d PUTs failed %q",
				p.missed, p.samples(), p.putErrors, p.puts, p.putSample)
		}
		rep.propagation = &p
	}
	if readBench {
		// A string key of the seeded set (seedWrite: i%5 == 0 is a URL).
		key, want := seedKey(0), seedWrite(0).Value
		logf("measuring SDK String(%q) with testing.Benchmark", key)
		r, err := benchmarkString(ws.clients[0], key, want)
		if err != nil {
			return fmt.Errorf("SDK String read: %w", err)
		}
		rep.read = &r
	}
	return nil
}

// startHello starts the reference server: a Go net/http handler writing
// "hello\n", on a free loopback port.
func startHello() (*helloServer, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			io.WriteString(w, "hello\n")
		}),
		ReadHeaderTimeout: 10 * time.Second,
	}
	go srv.Serve(l)
	return &helloServer{srv: srv, URL: "http://" + l.Addr().String()}, nil
}

type helloServer struct {
	srv *http.Server
	URL string
}

func (h *helloServer) Close() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	h.srv.Shutdown(ctx)
}

// fetchETag GETs u once and returns its ETag.
func fetchETag(ctx context.Context, u string, h http.Header) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return "", err
	}
	req.Header = h.Clone()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("GET %s: %s: %s", u, resp.Status, summarize(body))
	}
	etag := resp.Header.Get("ETag")
	if etag == "" {
		return "", fmt.Errorf("GET %s: no ETag", u)
	}
	return etag, nil
}

// --- Keel process ---

type keel struct {
	cmd           *exec.Cmd
	exited        chan struct{}
	waitErr       error
	dataDir       string
	logPath       string
	baseURL       string
	adminPassword string
	env           []string
}

func startKeel(ctx context.Context, bin, tmp string, logf func(string, ...any)) (*keel, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	pw := make([]byte, 16)
	rand.Read(pw)
	k := &keel{
		dataDir:       filepath.Join(tmp, "data"),
		logPath:       filepath.Join(tmp, "keel.log"),
		baseURL:       "http://127.0.0.1:" + strconv.Itoa(port),
		adminPassword: "bench-" + hex.EncodeToString(pw),
		exited:        make(chan struct{}),
	}
	// The embedded store is what is measured: drop a REDIS_URL and every
	// KEEL_* setting of the caller's environment.
	for _, kv := range os.Environ() {
		if (strings.HasPrefix(kv, "KEEL_") && !strings.HasPrefix(kv, "KEEL_PPROF_ADDR=")) || strings.HasPrefix(kv, "REDIS_URL=") {
			continue
		}
		k.env = append(k.env, kv)
	}
	k.env = append(k.env, "KEEL_DATA_DIR="+k.dataDir, "KEEL_ADMIN_PASSWORD="+k.adminPassword)

	logFile, err := os.Create(k.logPath)
	if err != nil {
		return nil, err
	}
	defer logFile.Close()
	addr := "127.0.0.1:" + strconv.Itoa(port)
	k.cmd = exec.Command(bin, "serve", "-addr", addr, "-data-dir", k.dataDir)
	k.cmd.Env = k.env
	k.cmd.Stdout = logFile
	k.cmd.Stderr = logFile
	// Its own process group: a Ctrl-C reaches keelbench only, which then
	// stops Keel once, with SIGTERM.
	k.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := k.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	go func() {
		k.waitErr = k.cmd.Wait()
		close(k.exited)
	}()
	logf("started %s serve -addr %s (pid %d, log %s)", bin, addr, k.cmd.Process.Pid, k.logPath)

	if err := k.waitReady(ctx, 60*time.Second); err != nil {
		if tail := k.logTail(); tail != "" {
			logf("end of Keel's log:\n%s", tail)
		}
		k.stop()
		return nil, err
	}
	logf("Keel is ready at %s", k.baseURL)
	return k, nil
}

func (k *keel) waitReady(ctx context.Context, timeout time.Duration) error {
	client := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(timeout)
	last := "no answer"
	for {
		select {
		case <-k.exited:
			return fmt.Errorf("keel exited before it was ready: %v", k.waitErr)
		case <-ctx.Done():
			return ctx.Err()
		default:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("keel not ready after %s: /readyz: %s", timeout, last)
		}
		resp, err := client.Get(k.baseURL + "/readyz")
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			last = resp.Status
		} else {
			last = err.Error()
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// createToken runs `keel token create` against the same data directory and
// returns the secret it prints. A token with env is limited to it.
func (k *keel) createToken(ctx context.Context, name, role, env string) (string, error) {
	args := []string{"token", "create", "--name", name, "--role", role}
	if env != "" {
		args = append(args, "--env", env)
	}
	cmd := exec.CommandContext(ctx, k.cmd.Path, args...)
	cmd.Env = k.env
	var stdout, stderr bytes.Buffer
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("keel token create: %w: %s", err, strings.TrimSpace(stderr.String()))
	}
	token := strings.TrimSpace(stdout.String())
	if token == "" || strings.ContainsAny(token, " \n\t") {
		return "", fmt.Errorf("keel token create printed %q, want only the token", stdout.String())
	}
	return token, nil
}

// stop sends SIGTERM and waits for Keel (which stops its redis-server) to
// exit; after 30 seconds it kills the whole process group.
func (k *keel) stop() error {
	select {
	case <-k.exited:
		return nil
	default:
	}
	k.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-k.exited:
		return nil
	case <-time.After(30 * time.Second):
		syscall.Kill(-k.cmd.Process.Pid, syscall.SIGKILL)
		<-k.exited
		return errors.New("keel did not stop within 30s of SIGTERM; killed it")
	}
}

func (k *keel) logTail() string {
	b, err := os.ReadFile(k.logPath)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-20):], "\n")
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// --- HTTP helpers ---

var inputTag = regexp.MustCompile(`(?is)<input\b[^>]*>`)
var attrRe = regexp.MustCompile(`(?is)\b(name|value)\s*=\s*"([^"]*)"`)

// csrfField returns the value of the hidden _csrf input of a page.
func csrfField(page []byte) (string, bool) {
	for _, tag := range inputTag.FindAll(page, -1) {
		var name, value string
		for _, m := range attrRe.FindAllSubmatch(tag, -1) {
			switch strings.ToLower(string(m[1])) {
			case "name":
				name = string(m[2])
			case "value":
				value = html.UnescapeString(string(m[2]))
			}
		}
		if name == "_csrf" && value != "" {
			return value, true
		}
	}
	return "", false
}

// signIn signs in through the login form, as a browser does, and returns
// the session cookie.
func signIn(ctx context.Context, baseURL, user, password string) (*http.Cookie, error) {
	jar, _ := cookiejar.New(nil)
	client := &http.Client{
		Jar:     jar,
		Timeout: 10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, baseURL+"/login", nil)
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	page, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET /login: %s", resp.Status)
	}
	csrf, ok := csrfField(page)
	if !ok {
		return nil, errors.New(`GET /login: no <input name="_csrf"> in the page`)
	}

	form := url.Values{"username": {user}, "password": {password}, "_csrf": {csrf}}
	req, _ = http.NewRequestWithContext(ctx, http.MethodPost, baseURL+"/login", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", baseURL)
	resp, err = client.Do(req)
	if err != nil {
		return nil, err
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		return nil, fmt.Errorf("POST /login: %s, want 303 See Other: %s", resp.Status, summarize(body))
	}
	u, _ := url.Parse(baseURL)
	for _, c := range jar.Cookies(u) {
		if c.Name == "keel_session" {
			return &http.Cookie{Name: c.Name, Value: c.Value}, nil
		}
	}
	return nil, errors.New("POST /login: no keel_session cookie set")
}

// expectStatus GETs u once and checks the answer's status is want and,
// when contains is not empty, that its body holds that text. It returns the
// body's size.
func expectStatus(ctx context.Context, u string, h http.Header, want int, contains string) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return 0, err
	}
	for k, vs := range h {
		req.Header[k] = vs
	}
	req.Header.Del("Accept-Encoding") // a readable body for the error message
	client := &http.Client{
		Timeout:       10 * time.Second,
		Transport:     &http.Transport{DisableCompression: true},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return 0, fmt.Errorf("GET %s: %w", u, err)
	}
	if resp.StatusCode != want {
		loc := resp.Header.Get("Location")
		if loc != "" {
			loc = " to " + loc
		}
		return 0, fmt.Errorf("GET %s: %s%s, want %d: %s", u, resp.Status, loc, want, summarize(body))
	}
	if contains != "" && !bytes.Contains(body, []byte(contains)) {
		return 0, fmt.Errorf("GET %s: %s without %q in its %d bytes: %s", u, resp.Status, contains, len(body), summarize(body))
	}
	return len(body), nil
}

func summarize(b []byte) string {
	s := strings.Join(strings.Fields(string(b)), " ")
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}

// --- audit ---

var benchActor = store.Actor{Name: "bench", Role: "admin"}

func seedAudit(ctx context.Context, st *store.Store, n int) error {
	const workers = 16
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		first   error
		counter = make(chan int)
	)
	for range workers {
		wg.Go(func() {
			for i := range counter {
				err := st.RecordEvent(ctx, benchActor, "bench.seed", "item-"+strconv.Itoa(i), "",
					map[string]any{"n": i, "note": "seeded by keelbench"})
				if err != nil {
					mu.Lock()
					if first == nil {
						first = err
					}
					mu.Unlock()
				}
			}
		})
	}
	for i := range n {
		counter <- i
	}
	close(counter)
	wg.Wait()
	return first
}

// appendLoad runs goroutines that each call RecordEvent in a closed loop.
func appendLoad(ctx context.Context, st *store.Store, goroutines int, d time.Duration) (loadgen.Result, error) {
	type part struct {
		lat    []time.Duration
		errors int
		sample string
	}
	parts := make([]part, goroutines)
	start := time.Now()
	end := start.Add(d)
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			p := &parts[g]
			for i := 0; ctx.Err() == nil; i++ {
				t0 := time.Now()
				if !t0.Before(end) {
					return
				}
				err := st.RecordEvent(ctx, benchActor, "bench.append", fmt.Sprintf("g%d-%d", g, i), "",
					map[string]any{"goroutine": g, "i": i})
				if err != nil {
					p.errors++
					if p.sample == "" {
						p.sample = err.Error()
					}
					continue
				}
				p.lat = append(p.lat, time.Since(t0))
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	if err := ctx.Err(); err != nil {
		return loadgen.Result{}, err
	}
	var res loadgen.Result
	var lat []time.Duration
	for _, p := range parts {
		res.Requests += len(p.lat) + p.errors
		res.Errors += p.errors
		if res.ErrorSample == "" {
			res.ErrorSample = p.sample
		}
		lat = append(lat, p.lat...)
	}
	slices.Sort(lat)
	res.Elapsed = elapsed
	res.RPS = float64(res.Requests) / elapsed.Seconds()
	res.P50 = loadgen.Percentile(lat, 50)
	res.P99 = loadgen.Percentile(lat, 99)
	if len(lat) > 0 {
		res.Max = lat[len(lat)-1]
	}
	return res, nil
}

// --- output ---

func printMachine(w io.Writer) {
	fmt.Fprintf(w, "Machine: %d CPUs (nproc), %s, %s/%s\n", runtime.NumCPU(), cpuModel(), runtime.GOOS, runtime.GOARCH)
	fmt.Fprintf(w, "Go: %s\n", runtime.Version())
	if out, err := exec.Command("redis-server", "--version").Output(); err == nil {
		fmt.Fprintf(w, "Redis: %s\n", strings.TrimSpace(string(out)))
	}
	fmt.Fprintf(w, "Date: %s\n\n", time.Now().UTC().Format(time.RFC3339))
}

func cpuModel() string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return "unknown CPU"
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if name, value, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(name) == "model name" {
			return strings.TrimSpace(value)
		}
	}
	return "unknown CPU"
}

func printTable(w io.Writer, rows []row) {
	fmt.Fprintln(w, "| Scenario | Conns | Requests/s | p50 | p99 | Errors |")
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|")
	for _, r := range rows {
		errs := strconv.Itoa(r.res.Errors)
		if r.res.Errors > 0 {
			errs += fmt.Sprintf(" (%.2f%%)", 100*r.res.ErrorRate())
		}
		fmt.Fprintf(w, "| %s | %d | %s | %s | %s | %s |\n",
			r.scenario, r.conns, formatRate(r.res.RPS), formatLatency(r.res.P50), formatLatency(r.res.P99), errs)
	}
}

func formatRate(v float64) string {
	s := strconv.FormatFloat(v, 'f', 0, 64)
	// Thousands separators: 12345 → 12,345.
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

func formatLatency(d time.Duration) string {
	ms := float64(d) / float64(time.Millisecond)
	switch {
	case d == 0:
		return "–"
	case ms < 10:
		return fmt.Sprintf("%.2f ms", ms)
	case ms < 100:
		return fmt.Sprintf("%.1f ms", ms)
	default:
		return fmt.Sprintf("%.0f ms", ms)
	}
}
