package testbin

import "testing"

func TestRace(t *testing.T) {
	for _, c := range []struct {
		env       string
		cli, intg bool
	}{
		{"", false, false}, {"0", false, false}, {"1", true, true}, {"all", true, true},
		{"cli", true, false}, {"integration", false, true}, {"cli, integration", true, true},
	} {
		t.Setenv(RaceEnv, c.env)
		if Race(SuiteCLI) != c.cli || Race(SuiteIntegration) != c.intg {
			t.Errorf("%s=%q: cli %v integration %v, want %v %v", RaceEnv, c.env,
				Race(SuiteCLI), Race(SuiteIntegration), c.cli, c.intg)
		}
	}
}
