// Command linkemu is a point-to-point link with delay and loss for
// integration/bench, for kernels without sch_netem (tc netem). It creates two
// TAP devices, -a and -b, in its network namespace; the driver moves each
// into the namespace of one host (ip link set NAME netns NS) and gives it an
// address. linkemu then carries every Ethernet frame from one to the other:
// frames from a to b wait -delay-ab and are dropped with probability
// -loss-ab percent; frames from b to a, -delay-ba and -loss-ba. Rate limits stay with the
// kernel (tc tbf on the TAP devices inside the namespaces); a device taken
// down drops what is written to it, as a cable pulled out would.
//
//	linkemu -a dsb1a -b dsb1b -delay-ab 150ms -loss-ab 3 -loss-ba 3
//
// Prints "ready" once both devices exist and "a->b N dropped D b->a M
// dropped E" when stopped (SIGTERM, SIGINT or -timeout). The devices vanish
// when it exits.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"math/rand/v2"
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// maxFrame bounds a frame read from a TAP device (MTU 1500 plus headers,
// with room for a larger MTU).
const maxFrame = 65536

// maxQueued bounds the frames waiting out their delay in one direction
// (150 ms at 10 Mbit/s is ~125 full frames); past it frames are dropped,
// as a full router queue would.
const maxQueued = 4096

func main() {
	a := flag.String("a", "", "name of the first TAP device (at most 15 bytes)")
	b := flag.String("b", "", "name of the second TAP device")
	delayAB := flag.Duration("delay-ab", 0, "delay of frames from a to b")
	delayBA := flag.Duration("delay-ba", 0, "delay of frames from b to a")
	lossAB := flag.Float64("loss-ab", 0, "percent of the frames from a to b dropped")
	lossBA := flag.Float64("loss-ba", 0, "percent of the frames from b to a dropped")
	timeout := flag.Duration("timeout", time.Hour, "exit after this long")
	flag.Parse()
	if *a == "" || *b == "" || *a == *b {
		log.Fatal("linkemu: give two different TAP names, -a and -b")
	}
	for _, l := range []float64{*lossAB, *lossBA} {
		if l < 0 || l > 100 {
			log.Fatalf("linkemu: loss %v is not a percentage", l)
		}
	}
	ta, err := openTAP(*a)
	if err != nil {
		log.Fatal(err)
	}
	tb, err := openTAP(*b)
	if err != nil {
		log.Fatal(err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	ab := &direction{from: ta, to: tb, delay: *delayAB, loss: *lossAB / 100}
	ba := &direction{from: tb, to: ta, delay: *delayBA, loss: *lossBA / 100}
	var wg sync.WaitGroup
	for _, d := range []*direction{ab, ba} {
		wg.Go(func() { d.run(ctx) })
	}
	fmt.Println("ready")
	<-ctx.Done()
	// Closing the devices ends the blocked reads.
	ta.Close()
	tb.Close()
	wg.Wait()
	fmt.Printf("a->b %d dropped %d b->a %d dropped %d\n", ab.carried.Load(), ab.dropped.Load(),
		ba.carried.Load(), ba.dropped.Load())
}

// openTAP creates the TAP device name (no packet information header) and
// returns its file; the device lives as long as the file is open.
func openTAP(name string) (*os.File, error) {
	// Non-blocking, so that os.NewFile puts it in the runtime poller and
	// Close ends a pending Read.
	fd, err := unix.Open("/dev/net/tun", unix.O_RDWR|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
	if err != nil {
		return nil, fmt.Errorf("linkemu: open /dev/net/tun: %w", err)
	}
	ifr, err := unix.NewIfreq(name)
	if err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("linkemu: TAP name %q: %w", name, err)
	}
	ifr.SetUint16(unix.IFF_TAP | unix.IFF_NO_PI)
	if err := unix.IoctlIfreq(fd, unix.TUNSETIFF, ifr); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("linkemu: create TAP %s: %w", name, err)
	}
	return os.NewFile(uintptr(fd), name), nil
}

// direction carries frames one way.
type direction struct {
	from, to *os.File
	delay    time.Duration
	loss     float64 // probability in [0, 1]

	carried, dropped atomic.Int64
}

// frame is one frame and when it may leave.
type frame struct {
	due  time.Time
	data []byte
}

// run reads frames until from is closed, and writes each to to once its
// delay has passed, in order.
func (d *direction) run(ctx context.Context) {
	queue := make(chan frame, maxQueued)
	var wg sync.WaitGroup
	wg.Go(func() { d.deliver(ctx, queue) })
	defer wg.Wait()
	defer close(queue)
	buf := make([]byte, maxFrame)
	for {
		n, err := d.from.Read(buf)
		if err != nil {
			if !errors.Is(err, os.ErrClosed) && ctx.Err() == nil {
				log.Printf("linkemu: read %s: %v", d.from.Name(), err)
			}
			return
		}
		if rand.Float64() < d.loss {
			d.dropped.Add(1)
			continue
		}
		select {
		case queue <- frame{due: time.Now().Add(d.delay), data: append([]byte(nil), buf[:n]...)}:
		default:
			d.dropped.Add(1) // the queue is full
		}
	}
}

// deliver writes the queued frames when they are due. A write to a device
// that is down fails; the frame is lost, as on a dead link.
func (d *direction) deliver(ctx context.Context, queue <-chan frame) {
	timer := time.NewTimer(0)
	defer timer.Stop()
	for f := range queue {
		if wait := time.Until(f.due); wait > 0 {
			timer.Reset(wait)
			select {
			case <-timer.C:
			case <-ctx.Done():
				return
			}
		}
		if _, err := d.to.Write(f.data); err != nil {
			d.dropped.Add(1)
			continue
		}
		d.carried.Add(1)
	}
}
