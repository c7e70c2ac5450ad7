package layout_test

import (
	"fmt"
	"strings"

	"github.com/distswarm/distswarm/storage/layout"
)

func ExampleMirrorURL() {
	cfg, err := layout.ParseConfig(strings.NewReader("[structure]\n0=filename-hash BLAKE2B 8\n1=flat\n"), "layout.conf")
	if err != nil {
		panic(err)
	}
	p := cfg.Path("plus+sign-1.0.tar.gz", nil)
	fmt.Println(p)
	fmt.Println(layout.MirrorURL("https://distfiles.example.org/", p))
	// Output:
	// 98/plus+sign-1.0.tar.gz
	// https://distfiles.example.org/distfiles/98/plus%2Bsign-1.0.tar.gz
}
