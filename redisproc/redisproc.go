// Package redisproc runs Keel's embedded default store: when no REDIS_URL is
// configured, Keel starts its own redis-server child process (found on PATH),
// keeps it running, and stops it gracefully on shutdown.
//
// The server listens on a unix socket inside its data directory (no TCP at
// all), keeps its data in an append-only file there, and is supervised: if it
// exits while Keel is running it is logged and restarted with backoff. A lock
// file makes sure two Keel processes never run two redis-servers on one
// directory; CLI commands use Attach to share the server a running Keel
// already started.
//
// Files in the data directory:
//
//	keel.lock      flock held by Keel and inherited by redis-server; holds Keel's pid
//	redis.conf     the server's configuration (0600; it may hold the password)
//	redis.sock     the unix socket (0700)
//	redis.log      the server's log
//	redis.pid      the server's pid
//	appendonlydir/ the append-only file
//	password, port only when the socket path is too long for a unix socket
//	               (see Options.Dir): the server then listens on 127.0.0.1
//	               with a random password
package redisproc

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"
)

// ErrNoBinary means redis-server could not be found.
var ErrNoBinary = errors.New("redis-server not found on PATH")

// ErrLocked means another live process runs the embedded Redis of the same
// data directory.
var ErrLocked = errors.New("redis data directory is in use")

const (
	lockName     = "keel.lock"
	confName     = "redis.conf"
	sockName     = "redis.sock"
	logName      = "redis.log"
	pidName      = "redis.pid"
	passwordName = "password"
	portName     = "port"

	// maxSocketPath is the longest unix socket path used: sun_path holds 104
	// bytes on the BSDs and macOS (108 on Linux), including the final NUL.
	maxSocketPath = 103

	readyTimeout = 15 * time.Second // how long a starting server may take to answer PING
	stopTimeout  = 10 * time.Second // SIGTERM → SIGKILL
	lockWait     = 10 * time.Second // how long to wait for a lingering server of a dead Keel
	minBackoff   = 250 * time.Millisecond
	maxBackoff   = 5 * time.Second
	stableAfter  = 30 * time.Second // a child up this long resets the backoff
)

// Options configures the embedded server.
type Options struct {
	// Dir is the data directory (Keel passes <KEEL_DATA_DIR>/redis); it is
	// created with mode 0700. If <Dir>/redis.sock would be 104 bytes or
	// longer, the server listens on a free 127.0.0.1 port instead, with a
	// random password kept in <Dir>/password (0600).
	Dir string
	// Binary is the redis-server executable (default "redis-server", looked
	// up on PATH).
	Binary string
	// Logger receives start, crash and restart messages (default
	// slog.Default()).
	Logger *slog.Logger
}

// Server is a running embedded redis-server, either started (and supervised)
// by this process or attached to.
type Server struct {
	dir      string
	sock     string // unix socket path; "" when listening on TCP
	port     int
	password string
	attached bool
	binary   string
	logger   *slog.Logger
	lock     *os.File

	runCtx context.Context
	cancel context.CancelFunc
	exited chan struct{} // closed when the supervisor has stopped

	mu    sync.Mutex
	child *child

	stopOnce   sync.Once
	unlockOnce sync.Once
}

type child struct {
	cmd     *exec.Cmd
	pid     int
	started time.Time
	done    chan struct{} // closed once the process has exited
	state   *os.ProcessState
	waitErr error
}

func (c *child) status() string {
	if c.state != nil {
		return c.state.String()
	}
	if c.waitErr != nil {
		return c.waitErr.Error()
	}
	return "unknown"
}

// Start starts redis-server in o.Dir and supervises it until Stop. It
// returns once the server answers PING; if it does not within 15 seconds, or
// exits first, the error carries the end of its log. It fails with ErrLocked
// when another live process runs the server of this directory, and with
// ErrNoBinary when redis-server is missing.
func Start(ctx context.Context, o Options) (*Server, error) {
	s, err := newServer(o)
	if err != nil {
		return nil, err
	}
	bin := o.Binary
	if bin == "" {
		bin = "redis-server"
	}
	path, err := exec.LookPath(bin)
	if err != nil {
		return nil, fmt.Errorf("%w (looked for %q): %v", ErrNoBinary, bin, err)
	}
	s.binary = path
	lock, err := acquireLock(ctx, s.dir)
	if err != nil {
		return nil, err
	}
	s.lock = lock
	attempts := 1
	if s.sock == "" {
		// A free port can be taken by someone else before redis-server binds
		// it; try another.
		attempts = 3
		if s.password, err = newPassword(); err != nil {
			s.unlock()
			return nil, err
		}
		if err := writeFileAtomic(filepath.Join(s.dir, passwordName), []byte(s.password+"\n")); err != nil {
			s.unlock()
			return nil, err
		}
	}
	for attempt := 1; ; attempt++ {
		if s.sock == "" {
			if s.port, err = freePort(); err != nil {
				s.unlock()
				return nil, err
			}
			if err := writeFileAtomic(filepath.Join(s.dir, portName), []byte(strconv.Itoa(s.port)+"\n")); err != nil {
				s.unlock()
				return nil, err
			}
		}
		if err := writeFileAtomic(filepath.Join(s.dir, confName), []byte(s.config())); err != nil {
			s.unlock()
			return nil, err
		}
		err = s.launch(ctx)
		if err == nil {
			s.logger.Info("embedded redis-server started", "pid", s.PID(), "dir", s.dir, "addr", s.addr())
			return s, nil
		}
		if attempt >= attempts || !errors.Is(err, errExited) {
			s.unlock()
			return nil, err
		}
	}
}

// Attach is for CLI commands: when a server started by Keel is already
// running in o.Dir (it answers PING), it returns a Server that only connects
// to it (attached is true, and Stop leaves it running). Otherwise it starts
// one, as Start does (attached is false, and Stop stops it).
func Attach(ctx context.Context, o Options) (s *Server, attached bool, err error) {
	probe, err := newServer(o)
	if err != nil {
		return nil, false, err
	}
	deadline := time.Now().Add(readyTimeout)
	for {
		if a, ok := probe.probeRunning(ctx); ok {
			return a, true, nil
		}
		s, err := Start(ctx, o)
		if err == nil {
			return s, false, nil
		}
		if !errors.Is(err, ErrLocked) || time.Now().After(deadline) {
			return nil, false, err
		}
		// Another Keel owns the directory and its server is (re)starting:
		// wait for it to answer.
		select {
		case <-ctx.Done():
			return nil, false, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// ClientOptions says how to connect: the unix socket, or 127.0.0.1:<port>
// with the password. It returns a new value on every call.
func (s *Server) ClientOptions() *redis.UniversalOptions {
	return &redis.UniversalOptions{Addrs: []string{s.addr()}, Password: s.password}
}

// PID returns the redis-server process id; it changes when the supervisor
// restarts the server. For an attached Server it is read from redis.pid; 0
// when unknown.
func (s *Server) PID() int {
	if s.attached {
		return readInt(filepath.Join(s.dir, pidName))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.child == nil {
		return 0
	}
	return s.child.pid
}

// Dir returns the absolute data directory.
func (s *Server) Dir() string { return s.dir }

// Stop ends supervision, then stops redis-server gracefully (SIGTERM, which
// makes Redis flush its append-only file), killing it if it has not exited
// after 10 seconds or when ctx ends first. Stop on an attached Server does
// nothing. Calling Stop again is harmless.
func (s *Server) Stop(ctx context.Context) error {
	if s.attached || s.cancel == nil {
		return nil
	}
	s.stopOnce.Do(s.cancel)
	var err error
	select {
	case <-s.exited:
	case <-ctx.Done():
		s.signal(syscall.SIGKILL)
		<-s.exited
		err = fmt.Errorf("stop embedded redis-server: %w", ctx.Err())
	}
	s.unlock()
	return err
}

// --- setup ---

func newServer(o Options) (*Server, error) {
	if o.Dir == "" {
		return nil, errors.New("redisproc: no data directory given")
	}
	dir, err := filepath.Abs(o.Dir)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create redis data directory: %w", err)
	}
	logger := o.Logger
	if logger == nil {
		logger = slog.Default()
	}
	s := &Server{dir: dir, logger: logger}
	if sock := filepath.Join(dir, sockName); len(sock) <= maxSocketPath {
		s.sock = sock
	}
	return s, nil
}

func (s *Server) addr() string {
	if s.sock != "" {
		return s.sock
	}
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port))
}

// config renders redis.conf. Durability comes from the append-only file
// (fsync every second), so RDB snapshots are off.
func (s *Server) config() string {
	var b strings.Builder
	line := func(args ...string) { b.WriteString(strings.Join(args, " ") + "\n") }
	line("# Written by Keel on every start; edits are overwritten.")
	line("daemonize", "no")
	line("dir", quote(s.dir))
	line("logfile", quote(filepath.Join(s.dir, logName)))
	line("pidfile", quote(filepath.Join(s.dir, pidName)))
	line("appendonly", "yes")
	line("appendfsync", "everysec")
	line("save", `""`)
	line("always-show-logo", "no")
	if s.sock != "" {
		line("port", "0")
		line("unixsocket", quote(s.sock))
		line("unixsocketperm", "700")
	} else {
		line("port", strconv.Itoa(s.port))
		line("bind", "127.0.0.1")
		line("requirepass", quote(s.password))
	}
	return b.String()
}

// quote makes a redis.conf string argument.
func quote(v string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c < 0x20 || c >= 0x7f:
			fmt.Fprintf(&b, `\x%02x`, c)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}

func newPassword() (string, error) {
	buf := make([]byte, 24)
	if _, err := rand.Read(buf); err != nil {
		return "", err
	}
	return hex.EncodeToString(buf), nil
}

func freePort() (int, error) {
	for {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, err
		}
		port := l.Addr().(*net.TCPAddr).Port
		l.Close()
		if port != 6379 {
			return port, nil
		}
	}
}

// writeFileAtomic writes a 0600 file through a rename, so a reader never sees
// it half written.
func writeFileAtomic(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp")
	if err != nil {
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return err
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	return nil
}

// --- lock ---

type lockedError struct {
	dir      string
	holder   int // Keel pid recorded in the lock file (0 if unknown)
	redisPID int // set when a server outlived its Keel
}

func (e *lockedError) Error() string {
	if e.redisPID > 0 {
		return fmt.Sprintf("redis data directory %s is in use by redis-server (pid %d), left running by a Keel process (pid %d) that has exited; stop it and try again",
			e.dir, e.redisPID, e.holder)
	}
	if e.holder > 0 {
		return fmt.Sprintf("redis data directory %s is in use by another Keel process (pid %d)", e.dir, e.holder)
	}
	return fmt.Sprintf("redis data directory %s is in use by another Keel process", e.dir)
}

func (e *lockedError) Is(target error) bool { return target == ErrLocked }

// acquireLock takes an exclusive flock on <dir>/keel.lock and records this
// process's pid in it. redis-server inherits the locked descriptor, so the
// lock stays held as long as either Keel or its server lives. If the Keel
// recorded in the file is gone, its server is still shutting down (it gets
// SIGTERM when Keel dies): wait for it a little.
func acquireLock(ctx context.Context, dir string) (*os.File, error) {
	path := filepath.Join(dir, lockName)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open lock file: %w", err)
	}
	deadline := time.Now().Add(lockWait)
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			if err := f.Truncate(0); err == nil {
				_, err = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
			}
			if err != nil {
				f.Close()
				return nil, fmt.Errorf("write lock file: %w", err)
			}
			return f, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			f.Close()
			return nil, fmt.Errorf("lock %s: %w", path, err)
		}
		holder := readInt(path)
		if holder <= 0 || processAlive(holder) {
			f.Close()
			return nil, &lockedError{dir: dir, holder: holder}
		}
		if time.Now().After(deadline) {
			f.Close()
			return nil, &lockedError{dir: dir, holder: holder, redisPID: readInt(filepath.Join(dir, pidName))}
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func (s *Server) unlock() {
	s.unlockOnce.Do(func() {
		if s.lock != nil {
			s.lock.Close()
		}
	})
}

// readInt reads a file holding one positive integer (a pid, a port); 0 if
// it is missing or holds anything else.
func readInt(path string) int {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return 0
	}
	return pid
}

// processAlive reports whether pid is a running (not zombie) process.
func processAlive(pid int) bool {
	err := syscall.Kill(pid, 0)
	if err != nil && !errors.Is(err, syscall.EPERM) {
		return false
	}
	// A zombie still accepts signal 0; /proc tells them apart where it exists.
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return true
	}
	if i := bytes.LastIndexByte(stat, ')'); i >= 0 && i+2 < len(stat) {
		return stat[i+2] != 'Z' && stat[i+2] != 'X'
	}
	return true
}

// --- supervision ---

var (
	errExited  = errors.New("redis-server exited during startup")
	errStopped = errors.New("embedded redis-server stopped while starting")
)

// launch starts the supervisor and waits for the first server to answer.
func (s *Server) launch(ctx context.Context) error {
	s.runCtx, s.cancel = context.WithCancel(context.Background())
	s.exited = make(chan struct{})
	ready := make(chan error, 1)
	go s.supervise(ready)
	select {
	case err := <-ready:
		if err != nil {
			<-s.exited
		}
		return err
	case <-ctx.Done():
		s.cancel()
		<-s.exited
		return ctx.Err()
	}
}

// supervise runs the child and restarts it, with backoff, whenever it exits
// before Stop. The goroutine stays on one OS thread: Pdeathsig fires when the
// thread that started the child ends, so this thread must outlive every child
// it starts (it does: it returns only after its child has exited).
func (s *Server) supervise(ready chan<- error) {
	runtime.LockOSThread()
	defer close(s.exited)
	delay := minBackoff
	for first := true; ; first = false {
		c, err := s.spawn()
		if err == nil {
			err = s.waitReady(c)
			if err != nil {
				s.terminate(c)
			}
		}
		if first {
			ready <- err
			if err != nil {
				return
			}
		}
		if s.runCtx.Err() != nil {
			if err == nil {
				s.terminate(c)
			}
			return
		}
		if err == nil {
			select {
			case <-c.done:
				if time.Since(c.started) >= stableAfter {
					delay = minBackoff
				}
				s.logger.Warn("embedded redis-server exited unexpectedly; restarting",
					"pid", c.pid, "status", c.status(), "restart_in", delay)
			case <-s.runCtx.Done():
				s.terminate(c)
				return
			}
		} else {
			s.logger.Warn("embedded redis-server failed to restart", "error", err, "retry_in", delay)
		}
		select {
		case <-time.After(delay):
		case <-s.runCtx.Done():
			return
		}
		delay = min(delay*2, maxBackoff)
	}
}

// spawn starts one redis-server process.
func (s *Server) spawn() (*child, error) {
	logFile, err := os.OpenFile(filepath.Join(s.dir, logName), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open redis log: %w", err)
	}
	defer logFile.Close()
	cmd := exec.Command(s.binary, filepath.Join(s.dir, confName))
	cmd.Dir = s.dir
	// Anything redis-server prints before it opens its log file (such as a
	// configuration error) lands in the same log.
	cmd.Stdout, cmd.Stderr = logFile, logFile
	// The child holds the directory lock too (fd 3), so a server outliving
	// its Keel keeps the directory locked until it exits.
	cmd.ExtraFiles = []*os.File{s.lock}
	cmd.SysProcAttr = &syscall.SysProcAttr{
		// Own process group: a Ctrl-C in the terminal reaches Keel only,
		// which then stops Redis after its own graceful shutdown.
		Setpgid: true,
		// If Keel dies, Redis is told to shut down too.
		Pdeathsig: syscall.SIGTERM,
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", s.binary, err)
	}
	c := &child{cmd: cmd, pid: cmd.Process.Pid, started: time.Now(), done: make(chan struct{})}
	go func() {
		c.waitErr = cmd.Wait()
		c.state = cmd.ProcessState
		close(c.done)
	}()
	s.mu.Lock()
	s.child = c
	s.mu.Unlock()
	return c, nil
}

// waitReady waits until the server answers PING.
func (s *Server) waitReady(c *child) error {
	timeout := time.NewTimer(readyTimeout)
	defer timeout.Stop()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		err := ping(s.runCtx, s.addr(), s.password)
		if err == nil {
			return nil
		}
		select {
		case <-c.done:
			return fmt.Errorf("%w (%s); end of %s:\n%s", errExited, c.status(), filepath.Join(s.dir, logName), s.logTail())
		case <-s.runCtx.Done():
			return errStopped
		case <-timeout.C:
			return fmt.Errorf("redis-server (pid %d) did not answer PING within %s (last error: %v); end of %s:\n%s",
				c.pid, readyTimeout, err, filepath.Join(s.dir, logName), s.logTail())
		case <-tick.C:
		}
	}
}

// terminate stops one child: SIGTERM, then SIGKILL after stopTimeout.
func (s *Server) terminate(c *child) {
	select {
	case <-c.done:
		return
	default:
	}
	c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.done:
	case <-time.After(stopTimeout):
		s.logger.Warn("embedded redis-server did not stop in time; killing it", "pid", c.pid, "after", stopTimeout)
		c.cmd.Process.Kill()
		<-c.done
	}
}

// signal sends sig to the current child, if it is running.
func (s *Server) signal(sig syscall.Signal) {
	s.mu.Lock()
	c := s.child
	s.mu.Unlock()
	if c == nil {
		return
	}
	select {
	case <-c.done:
	default:
		c.cmd.Process.Signal(sig)
	}
}

// logTail returns the last lines of redis.log.
func (s *Server) logTail() string {
	const maxBytes, maxLines = 4096, 15
	f, err := os.Open(filepath.Join(s.dir, logName))
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.Size() > maxBytes {
		f.Seek(st.Size()-maxBytes, io.SeekStart)
	}
	b, _ := io.ReadAll(f)
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > maxLines {
		lines = lines[len(lines)-maxLines:]
	}
	return strings.Join(lines, "\n")
}

// --- attach ---

// probeRunning returns an attached Server when a server answers in s.dir.
func (s *Server) probeRunning(ctx context.Context) (*Server, bool) {
	a := &Server{dir: s.dir, sock: s.sock, logger: s.logger, attached: true}
	if a.sock == "" {
		a.port = readInt(filepath.Join(a.dir, portName))
		pw, err := os.ReadFile(filepath.Join(a.dir, passwordName))
		if a.port == 0 || err != nil {
			return nil, false
		}
		a.password = strings.TrimSpace(string(pw))
	} else if _, err := os.Stat(a.sock); err != nil {
		return nil, false
	}
	if err := ping(ctx, a.addr(), a.password); err != nil {
		return nil, false
	}
	return a, true
}

// ping sends one PING over a fresh connection (after AUTH when there is a
// password) and wants +PONG back. It speaks RESP itself rather than through a
// go-redis client, whose pool logs every refused dial while a server starts.
func ping(ctx context.Context, addr, password string) error {
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	network := "tcp"
	if strings.HasPrefix(addr, "/") {
		network = "unix"
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, network, addr)
	if err != nil {
		return err
	}
	defer conn.Close()
	if deadline, ok := ctx.Deadline(); ok {
		conn.SetDeadline(deadline)
	}
	var req bytes.Buffer
	if password != "" {
		fmt.Fprintf(&req, "*2\r\n$4\r\nAUTH\r\n$%d\r\n%s\r\n", len(password), password)
	}
	req.WriteString("*1\r\n$4\r\nPING\r\n")
	if _, err := conn.Write(req.Bytes()); err != nil {
		return err
	}
	r := bufio.NewReader(conn)
	if password != "" {
		if err := expectReply(r, "+OK"); err != nil {
			return err
		}
	}
	return expectReply(r, "+PONG")
}

func expectReply(r *bufio.Reader, want string) error {
	line, err := r.ReadString('\n')
	if err != nil {
		return err
	}
	if line = strings.TrimRight(line, "\r\n"); line != want {
		return fmt.Errorf("redis answered %q", line)
	}
	return nil
}
