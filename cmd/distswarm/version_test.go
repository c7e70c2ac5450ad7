package main

import (
	"runtime/debug"
	"testing"
)

func TestVersionStringFallbacks(t *testing.T) {
	vcs := func(rev, modified string) *debug.BuildInfo {
		return &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: []debug.BuildSetting{
			{Key: "vcs.revision", Value: rev}, {Key: "vcs.modified", Value: modified},
		}}
	}
	cases := []struct {
		name, linked string
		bi           *debug.BuildInfo
		want         string
	}{
		{"link flag wins", "v1.0.0-3-gabc", vcs("0123456789abcdef", "true"), "v1.0.0-3-gabc"},
		{"go install @version", "", &debug.BuildInfo{Main: debug.Module{Version: "v0.4.0"}}, "v0.4.0"},
		{"vcs stamp, clean", "", vcs("0123456789abcdef0123", "false"), "0123456789ab"},
		{"vcs stamp, dirty", "", vcs("0123456789abcdef0123", "true"), "0123456789ab-dirty"},
		{"nothing known", "", &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}}, "devel"},
		{"no build info", "", nil, "devel"},
	}
	for _, tc := range cases {
		if got := versionString(tc.linked, tc.bi); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}
