package collection

import (
	"math"
	"math/rand"
	"testing"
)

// mixedCorpus: ~200 files from 0 B to 8 MiB, many under 32 KiB, ~1 GiB.
func mixedCorpus(r *rand.Rand) []int64 {
	var s []int64
	for i := 0; i < 200; i++ {
		if i%5 < 2 { // 40% small
			s = append(s, r.Int63n(32<<10))
		} else {
			s = append(s, 32<<10+int64(float64(8<<20-32<<10)*math.Sqrt(r.Float64())))
		}
	}
	return s
}

// smallCorpus: 5,000 files of 1–32 KiB.
func smallCorpus(r *rand.Rand) []int64 {
	s := make([]int64, 5000)
	for i := range s {
		s[i] = 1<<10 + r.Int63n(31<<10+1)
	}
	return s
}

// subset returns a random 5% of sizes.
func subset(r *rand.Rand, sizes []int64) []int64 {
	n := len(sizes) / 20
	var out []int64
	for _, i := range r.Perm(len(sizes))[:n] {
		out = append(out, sizes[i])
	}
	return out
}

func sum(s []int64) int64 {
	var n int64
	for _, v := range s {
		n += v
	}
	return n
}

func TestPieceLengthGoals(t *testing.T) {
	r := rand.New(rand.NewSource(75))
	mixed := mixedCorpus(r)
	pl := PieceLengthFor(mixed)
	full, part := WasteRatio(mixed, pl), WasteRatio(subset(r, mixed), pl)
	t.Logf("mixed: %d files, %.0f MiB, PL %d KiB: full %.4f, random 5%% %.4f", len(mixed), float64(sum(mixed))/(1<<20), pl>>10, full, part)
	if full > 1.05 || part > 1.3 {
		t.Errorf("mixed corpus ratios %.4f / %.4f exceed the goals 1.05 / 1.3", full, part)
	}
	for i := 0; i < 20; i++ { // more random subsets
		if p := WasteRatio(subset(r, mixed), pl); p > 1.3 {
			t.Errorf("mixed corpus subset %d ratio %.4f > 1.3", i, p)
		}
	}

	small := smallCorpus(r)
	pl = PieceLengthFor(small)
	full, part = WasteRatio(small, pl), WasteRatio(subset(r, small), pl)
	t.Logf("small: %d files, %.0f MiB, PL %d KiB: full %.4f, random 5%% %.4f", len(small), float64(sum(small))/(1<<20), pl>>10, full, part)
	if full > 1.3 || part > 1.3 {
		t.Errorf("small corpus: PL %d, ratios %.4f / %.4f", pl, full, part)
	}
	for _, floor := range []int64{8 << 10, 4 << 10} {
		pl, full := pieceLengthFor(small, floor)
		part := WasteRatio(subset(r, small), pl)
		t.Logf("small with a %d KiB floor: PL %d KiB: full %.4f, random 5%% %.4f", floor>>10, pl>>10, full, part)
		if floor == 4<<10 && (full > 1.3 || part > 1.3) {
			t.Errorf("4 KiB floor: ratios %.4f / %.4f exceed 1.3", full, part)
		}
	}
}

func TestPieceLengthBounds(t *testing.T) {
	cases := map[string][]int64{
		"empty":          nil,
		"one byte":       {1},
		"zeros":          {0, 0, 0},
		"4096 × 10 MiB":  repeat(10<<20, 4096),
		"100 × 4 GiB":    repeat(4<<30, 100),
		"4096 × 1 KiB":   repeat(1<<10, 4096),
		"one 100 GiB":    {100 << 30},
		"2 × 16 KiB + 1": {16 << 10, 16<<10 + 1},
	}
	for name, sizes := range cases {
		pl := PieceLengthFor(sizes)
		if pl < MinPieceLength || pl > MaxPieceLength || pl&(pl-1) != 0 {
			t.Errorf("%s: PL %d", name, pl)
		}
		pieces := Moved(sizes, pl)/pl + 1
		entries := int64(2*len(sizes) + 2)
		t.Logf("%s: PL %d KiB, %d pieces, work %d, waste %.4f", name, pl>>10, pieces, pieces*entries, WasteRatio(sizes, pl))
		if pl < MaxPieceLength && (pieces > maxPieces || pieces*entries > maxPieceWork) {
			t.Errorf("%s: %d pieces × %d entries over the bounds", name, pieces, entries)
		}
	}
	if got := PieceLengthFor([]int64{5, 100 << 20}); got != PieceLengthFor([]int64{100 << 20, 5}) {
		t.Error("PieceLengthFor depends on order")
	}
	if Moved([]int64{0, 1, 16 << 10, 16<<10 + 1}, 16<<10) != 16<<10*4 {
		t.Error("Moved")
	}
}

func repeat(v int64, n int) []int64 {
	s := make([]int64, n)
	for i := range s {
		s[i] = v
	}
	return s
}
