package storage

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/distswarm/distswarm/internal/regfile"
)

// Phase is where a file is in its life cycle.
type Phase uint8

// Phases. Only Verifying, Final, Rejected, Unverified and Damaged are persisted.
const (
	PhaseMissing    Phase = iota // nothing known yet (or not open)
	PhaseStaging                 // downloading into Dir/.partial
	PhaseVerifying               // all pieces verified; queued for the Verifier
	PhaseFinal                   // at its final path, verified (or adopted as seed material)
	PhaseRejected                // the Verifier rejected it; quarantined, not fetched again
	PhaseUnverified              // complete but no authority (or not placeable); stays staged
	PhaseDamaged                 // a final file lost or changed data; being fetched again
)

var phaseNames = [...]string{"Missing", "Staging", "Verifying", "Final", "Rejected", "Unverified", "Damaged"}

func (p Phase) String() string {
	if int(p) < len(phaseNames) {
		return phaseNames[p]
	}
	return "Phase(" + strconv.Itoa(int(p)) + ")"
}

// FileState is the observable state of one torrent file.
type FileState struct {
	Phase     Phase
	FinalPath string    // set when Final
	Size      int64     // of the final file when recorded
	ModTime   time.Time // of the final file when recorded
	Err       error     // why Rejected, Unverified or Damaged
}

func (r fileRecord) fileState() FileState {
	st := FileState{Phase: r.Phase}
	if r.Err != "" {
		st.Err = errors.New(r.Err)
	}
	if r.Phase == PhaseFinal {
		st.FinalPath, st.Size, st.ModTime = r.FinalPath, r.Size, time.Unix(0, r.ModTime)
	}
	return st
}

// EventKind says what happened to a file.
type EventKind int

// Event kinds.
const (
	EventFinal      EventKind = iota // placed at (or adopted from) its final path
	EventRejected                    // the Verifier rejected it; it was quarantined
	EventUnverified                  // no authority, or not placed or recorded (Err says why); Path says where it is
	EventDamaged                     // a final file lost data; it is fetched again
)

func (k EventKind) String() string {
	switch k {
	case EventFinal:
		return "Final"
	case EventRejected:
		return "Rejected"
	case EventUnverified:
		return "Unverified"
	case EventDamaged:
		return "Damaged"
	}
	return "EventKind(" + strconv.Itoa(int(k)) + ")"
}

// Event reports a file state change. Path is the final path (Final), the quarantine path
// (Rejected, Damaged when moved) or the staging path (Unverified).
type Event struct {
	Kind EventKind
	File FileRef
	Path string
	Err  error
}

type job struct {
	t *torrentStore
	f *fileEntry
}

func (s *Store) enqueue(j job) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	s.queue = append(s.queue, j)
	s.cond.Signal()
}

func (s *Store) worker() {
	defer s.wg.Done()
	for {
		s.mu.Lock()
		for len(s.queue) == 0 && !s.closed {
			s.cond.Wait()
		}
		if s.closed {
			s.mu.Unlock()
			return
		}
		j := s.queue[0]
		s.queue[0] = job{}
		s.queue = s.queue[1:]
		s.inflight++
		s.mu.Unlock()
		j.t.finalize(j.f)
		s.mu.Lock()
		s.inflight--
		s.mu.Unlock()
	}
}

// finalize runs one file through verification and hands a good one (or one found at its final
// path) to the committer, which places and records it with others (see committer). Worker
// goroutine; several run at once.
func (t *torrentStore) finalize(f *fileEntry) {
	t.mu.Lock()
	if t.closed {
		f.queued = false
		t.mu.Unlock()
		return
	}
	t.jobs.Add(1)
	preplaced := f.preplaced
	wasVerifying := f.phase == PhaseVerifying
	it := commitItem{t: t, f: f, wasFinal: f.phase == PhaseFinal, size: f.size, mtime: f.mtime}
	f.phase = PhaseVerifying
	t.mu.Unlock()
	handed, retry := false, false
	defer func() {
		if !handed {
			t.finishJob(f)
		}
		if retry {
			t.mu.Lock()
			t.enqueueLocked(f)
			t.mu.Unlock()
		}
	}()
	s := t.s
	ref, staging := t.ref(f), t.staging(f)

	if f.length > 0 && !preplaced {
		f.io.RLock()
		unresolved := f.cur == locUnresolved
		f.io.RUnlock()
		if unresolved {
			t.resolve(f)
			t.mu.Lock()
			preplaced = f.preplaced
			t.mu.Unlock()
		}
		if !preplaced {
			st, err := os.Stat(staging)
			if errors.Is(err, os.ErrNotExist) {
				if t.missingStaged(f) {
					handed = true
					s.commit.hand(it)
				}
				return
			}
			if err == nil {
				it.stagedOK, it.stagedSize, it.stagedModTime = true, st.Size(), st.ModTime().UnixNano()
			}
		}
	}
	if f.length == 0 && f.finalDir != "" {
		if st, err := os.Stat(t.finalPath(f)); err == nil && st.Mode().IsRegular() && st.Size() == 0 {
			preplaced = true
		}
	}
	if preplaced {
		handed = true
		s.commit.hand(it)
		return
	}
	if !wasVerifying {
		// Queued, not synced: it only makes the next open re-verify a file it finds at its
		// final path instead of adopting it (see stateDB).
		if err := s.db.queueFile(t.ih, f.index, &fileRecord{Phase: PhaseVerifying}); err != nil {
			s.log.Error("persist verifying", "file", ref.Path, "err", err)
		}
	}
	if f.length == 0 {
		if err := createEmpty(staging); err != nil {
			t.unverified(f, err)
			return
		}
	}
	switch {
	case f.finalDir == "":
		t.unverified(f, ErrNotPlaceable)
		return
	case s.o.Verifier == nil:
		t.unverified(f, ErrNoAuthority)
		return
	}
	gen := s.learnGen.Load()
	err := s.o.Verifier.Verify(t.ctx, ref, staging)
	if t.ctx.Err() != nil {
		return // interrupted: stays Verifying, re-queued on the next open
	}
	switch {
	case err == nil:
		it.place = true
		handed = true
		s.commit.hand(it)
	case errors.Is(err, ErrNoAuthority) && s.learnGen.Load() != gen:
		retry = true // the authority learnt entries while this ran: ask it again
	case errors.Is(err, ErrNoAuthority):
		t.unverified(f, err)
	default:
		t.reject(f, err)
	}
}

// finishJob ends f's finalize job: it may be queued again and the torrent may close. A file
// whose pieces all completed again while the job ran (its staged data was lost, the job had it
// fetched again, and MarkComplete skipped it as queued) is queued again here, or it would wait
// for a MarkComplete that never comes.
func (t *torrentStore) finishJob(f *fileEntry) {
	t.mu.Lock()
	f.queued = false
	if (f.phase == PhaseStaging || f.phase == PhaseDamaged) && f.begin < f.end && f.remaining == 0 {
		t.enqueueLocked(f)
	}
	t.mu.Unlock()
	t.jobs.Done()
}

func createEmpty(p string) error {
	if err := os.MkdirAll(filepath.Dir(p), 0o777); err != nil {
		return fmt.Errorf("staging dir: %w", err)
	}
	fh, err := regfile.Open(p, os.O_CREATE|os.O_WRONLY, 0o666)
	if err != nil {
		return fmt.Errorf("create empty staging file: %w", err)
	}
	return fh.Close()
}

// place makes the staged file durable, renames it to its final path and makes the directory
// entry durable, with an fsync each: the committer's way for a file whose staging and final
// paths are on different filesystems.
func (t *torrentStore) place(f *fileEntry) error {
	fsys := t.s.o.FS
	if err := fsys.SyncFile(t.staging(f)); err != nil {
		return err
	}
	dir := filepath.Dir(t.finalPath(f))
	if err := os.MkdirAll(dir, 0o777); err != nil {
		return fmt.Errorf("create final dir: %w", err)
	}
	if err := t.moveToFinal(f); err != nil {
		return err
	}
	return fsys.SyncDir(dir)
}

// moveToFinal renames the staged file to its final path (copies it across filesystems); readers
// are switched to the final path atomically with the rename. Its data must be durable already.
func (t *torrentStore) moveToFinal(f *fileEntry) error {
	staging := t.staging(f)
	f.io.Lock()
	t.s.files.forget(staging)
	t.s.files.forget(t.finalPath(f))
	fsys := t.s.o.FS
	err := fsys.Rename(staging, t.finalPath(f))
	if errors.Is(err, syscall.EXDEV) {
		if err = copyAcross(fsys, staging, t.finalPath(f)); err != nil {
			err = fmt.Errorf("copy across filesystems: %w", err)
		}
	}
	if err == nil {
		f.cur = locFinal
	}
	f.io.Unlock()
	if err != nil {
		return fmt.Errorf("move to final path: %w", err)
	}
	return nil
}

// copyAcross copies src to dst on another filesystem: copy to a temporary name next to dst,
// fsync, rename over dst, make the directory entry durable, then remove src. On any failure
// src is left as it was and the temporary copy is removed.
func copyAcross(fsys FileSystem, src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	tmp := dst + ".distswarm-tmp"
	out, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o666)
	if err != nil {
		return err
	}
	_, err = io.Copy(out, in)
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = fsys.SyncFile(tmp)
	}
	if err == nil {
		err = fsys.Rename(tmp, dst)
	}
	if err == nil {
		err = fsys.SyncDir(filepath.Dir(dst))
	}
	if err != nil {
		_ = os.Remove(tmp)
		return err
	}
	return os.Remove(src)
}

// finalized sets f Final in memory, as recorded in rec (by the committer), and emits EventFinal.
func (t *torrentStore) finalized(f *fileEntry, rec fileRecord) {
	f.io.Lock()
	f.cur = locFinal
	f.io.Unlock()
	t.mu.Lock()
	f.phase, f.err, f.preplaced = PhaseFinal, nil, false
	f.size, f.mtime = rec.Size, rec.ModTime
	t.mu.Unlock()
	t.s.emit(Event{Kind: EventFinal, File: t.ref(f), Path: rec.FinalPath})
}

// ErrNotRecorded means a verified file was placed at its final path but the state db could not
// record it Final (a failing or full disk). The file stays there, reported Unverified with this
// error; a retry records it, and the next open finds it there, verifies it and adopts it.
var ErrNotRecorded = errors.New("placed, but the state db could not record it")

// notPlaced handles a file the committer failed on. A file still staged is Unverified
// (unverified). A file placed but not recorded (ErrNotRecorded) stays at its final path,
// Unverified and preplaced: a retry only records it.
func (t *torrentStore) notPlaced(f *fileEntry, why error) {
	f.io.RLock()
	placed := f.cur == locFinal
	f.io.RUnlock()
	if !placed || !errors.Is(why, ErrNotRecorded) {
		t.unverified(f, why)
		return
	}
	t.mu.Lock()
	f.phase, f.err, f.preplaced = PhaseUnverified, why, true
	t.mu.Unlock()
	t.s.emit(Event{Kind: EventUnverified, File: t.ref(f), Path: t.finalPath(f), Err: why})
}

// unverified leaves the file staged and records why.
func (t *torrentStore) unverified(f *fileEntry, why error) {
	rec := fileRecord{Phase: PhaseUnverified, Err: why.Error()}
	ref := t.ref(f)
	if err := t.s.db.setFile(t.ih, f.index, &rec, 0, 0); err != nil {
		t.s.log.Error("persist unverified", "file", ref.Path, "err", err)
	}
	t.mu.Lock()
	f.phase, f.err = PhaseUnverified, why
	t.mu.Unlock()
	t.s.emit(Event{Kind: EventUnverified, File: ref, Path: t.staging(f), Err: why})
}

// quarantinePath names a quarantined copy: <base name>.<infohash prefix>.<index>[.suffix].
func (t *torrentStore) quarantinePath(f *fileEntry, suffix string) string {
	name := filepath.Base(filepath.FromSlash(t.path(f.index))) + "." + t.ih.HexString()[:12] + "." + strconv.Itoa(f.index) + suffix
	return filepath.Join(t.s.quarDir, name)
}

// reject quarantines a staged file the Verifier refused, forgets its pieces, persists Rejected and
// stops the client from fetching it again.
func (t *torrentStore) reject(f *fileEntry, why error) {
	s := t.s
	ref, staging := t.ref(f), t.staging(f)
	q := t.quarantinePath(f, "")
	if err := os.MkdirAll(s.quarDir, 0o777); err != nil {
		s.log.Error("create quarantine dir", "err", err)
	}
	f.io.Lock()
	s.files.forget(staging)
	if err := os.Rename(staging, q); err != nil {
		s.log.Error("quarantine", "file", ref.Path, "err", err)
		_ = os.Remove(staging)
		q = ""
	}
	f.cur = locStaging
	f.io.Unlock()
	rec := fileRecord{Phase: PhaseRejected, Err: why.Error()}
	if err := s.db.setFile(t.ih, f.index, &rec, f.begin, f.end); err != nil {
		s.log.Error("persist rejected", "file", ref.Path, "err", err)
	}
	t.mu.Lock()
	for p := f.begin; p < f.end; p++ {
		t.setPieceLocked(p, pieceIncomplete)
	}
	f.phase, f.err = PhaseRejected, why
	tor := t.tor
	t.mu.Unlock()
	if tor != nil {
		t.excludeFile(tor, f)
	}
	t.refreshCompletion(f.begin, f.end)
	s.log.Warn("file rejected", "file", ref.Path, "quarantine", q, "err", why)
	s.emit(Event{Kind: EventRejected, File: ref, Path: q, Err: why})
}

// missingStaged handles a complete file whose staged copy is gone. If a file of the right size is
// at its final path, the process most likely died between the rename and the Final record: it is
// verified in place (one read, no download) and missingStaged returns true, for the caller to
// have it recorded Final. Otherwise the data is lost.
func (t *torrentStore) missingStaged(f *fileEntry) bool {
	v := t.s.o.Verifier
	if st, err := os.Stat(t.finalPath(f)); f.finalDir == "" || v == nil || err != nil || !st.Mode().IsRegular() || st.Size() != f.length {
		t.lost(f)
		return false
	}
	ref := t.ref(f)
	err := v.Verify(t.ctx, ref, t.finalPath(f))
	if t.ctx.Err() != nil {
		return false
	}
	if err != nil {
		t.s.log.Warn("file at final path does not verify; fetching again", "file", ref.Path, "final", t.finalPath(f), "err", err)
		t.lost(f)
		return false
	}
	return true
}

// lost handles a file whose pieces are recorded complete but whose staged data is gone (deleted
// while the store was closed): its pieces are forgotten so that it is fetched again.
func (t *torrentStore) lost(f *fileEntry) {
	t.mu.Lock()
	for p := f.begin; p < f.end; p++ {
		t.setPieceLocked(p, pieceIncomplete)
	}
	f.phase, f.err = PhaseStaging, nil
	t.mu.Unlock()
	if err := t.s.db.setFile(t.ih, f.index, nil, f.begin, f.end); err != nil {
		t.s.log.Error("persist lost file", "file", t.path(f.index), "err", err)
	}
	t.refreshCompletion(f.begin, f.end)
	t.s.log.Warn("staged data lost; fetching again", "file", t.path(f.index), "staging", t.staging(f))
}

// demote takes a file off its final path after data loss. fromFinal: the file was placed by us
// (Final) and is moved to quarantine, Damaged; otherwise it was adopted from its final path and is
// left there untouched. Either way its pieces are forgotten and it is fetched into staging.
func (t *torrentStore) demote(f *fileEntry, why error, fromFinal bool) {
	s := t.s
	t.mu.Lock()
	if (fromFinal && f.phase != PhaseFinal) || (!fromFinal && !f.preplaced) {
		t.mu.Unlock()
		return // already demoted
	}
	f.preplaced = false
	f.phase = PhaseStaging
	if fromFinal {
		f.phase = PhaseDamaged
	}
	f.err = why
	for p := f.begin; p < f.end; p++ {
		t.setPieceLocked(p, pieceIncomplete)
	}
	t.mu.Unlock()

	q := ""
	f.io.Lock()
	s.files.forget(t.finalPath(f))
	if fromFinal {
		if _, err := os.Lstat(t.finalPath(f)); err == nil {
			_ = os.MkdirAll(s.quarDir, 0o777)
			q = t.quarantinePath(f, ".damaged")
			if err := os.Rename(t.finalPath(f), q); err != nil {
				s.log.Error("quarantine damaged file", "file", t.finalPath(f), "err", err)
				q = ""
			}
		}
	}
	f.cur = locStaging
	f.io.Unlock()

	ref := t.ref(f)
	var rec *fileRecord
	if fromFinal {
		rec = &fileRecord{Phase: PhaseDamaged, Err: why.Error()}
	}
	if err := s.db.setFile(t.ih, f.index, rec, f.begin, f.end); err != nil {
		s.log.Error("persist demotion", "file", ref.Path, "err", err)
	}
	t.refreshCompletion(f.begin, f.end)
	s.log.Warn("file demoted", "file", ref.Path, "final", t.finalPath(f), "err", why)
	if fromFinal {
		s.emit(Event{Kind: EventDamaged, File: ref, Path: q, Err: why})
	}
}
