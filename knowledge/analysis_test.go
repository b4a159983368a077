package knowledge

import (
	"slices"
	"strings"
	"testing"
)

func words(s string) []string {
	buf, toks, _ := tokenize(nil, nil, s, MaxQueryBytes)
	out := make([]string, len(toks))
	for i, t := range toks {
		out[i] = string(buf[t.start:t.end])
	}
	return out
}

func TestTokenize(t *testing.T) {
	tests := []struct {
		in   string
		want string
	}{
		{"Kazakhstan's presidency", "kazakhstan presidency"},
		{"Kazakhstan’s SCO’s", "kazakhstan sco"},
		{"the states' role", "the states role"},
		{"Trans-Caspian route", "trans caspian transcaspian route"},
		{"people-to-people ties", "people to people peopletopeople ties"},
		{"don't", "dont"},
		{"ÉTATS-UNIS Straße", "états unis étatsunis straße"},
		{"July 2023–2024", "july 2023 2024 20232024"},
		{"  ...!!!  ", ""},
		{"🇰🇿 emoji 👍🏽", "emoji"},
		{"bad\xffutf8\x00ctl\ttab", "bad utf8 ctl tab"},
		{"SCO?Yes!", "sco yes"},
		{"-leading trailing-", "leading trailing"},
		{"", ""},
	}
	for _, tt := range tests {
		if got := strings.Join(words(tt.in), " "); got != tt.want {
			t.Errorf("tokenize(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestTokenizeTruncates(t *testing.T) {
	long := strings.Repeat("presidency ", 1<<17) // over 1 MB
	buf, toks, truncated := tokenize(nil, nil, long, MaxQueryBytes)
	if !truncated {
		t.Errorf("tokenize(1 MB) truncated = false, want true")
	}
	if len(buf) > MaxQueryBytes || len(toks) > MaxQueryBytes/2 {
		t.Errorf("tokenize(1 MB) kept %d bytes and %d words, want at most %d bytes", len(buf), len(toks), MaxQueryBytes)
	}
	// A cut inside a multi-byte rune must not leave a broken rune behind.
	s := strings.Repeat("é", MaxQueryBytes)
	buf, _, _ = tokenize(nil, nil, s, MaxQueryBytes+1)
	if !strings.HasSuffix(string(buf), "é") {
		t.Errorf("tokenize cut a rune in half: ends %q", buf[len(buf)-2:])
	}
}

func TestNames(t *testing.T) {
	buf, toks, _ := tokenize(nil, nil, "When did Iran join? Iran joined. the SCO in Astana", MaxQueryBytes)
	var names []string
	for _, tk := range toks {
		if tk.name {
			names = append(names, string(buf[tk.start:tk.end]))
		}
	}
	if got, want := strings.Join(names, " "), "iran sco astana"; got != want {
		t.Errorf("names = %q, want %q (a capital at a sentence start is not a name)", got, want)
	}
}

func TestTypoBudget(t *testing.T) {
	for _, tt := range []struct{ n, want int }{{1, 0}, {4, 0}, {5, 1}, {8, 1}, {9, 2}, {20, 2}} {
		if got := typoBudget(tt.n); got != tt.want {
			t.Errorf("typoBudget(%d) = %d, want %d", tt.n, got, tt.want)
		}
	}
}

func TestOSADistance(t *testing.T) {
	tests := []struct {
		a, b string
		want int
	}{
		{"tourism", "tourism", 0},
		{"turism", "tourism", 1},
		{"toursim", "tourism", 1}, // a swap is one edit
		{"tourizm", "tourism", 1},
		{"separatisim", "separatism", 1},
		{"enviromental", "environmental", 1},
		{"infrastucture", "infrastructure", 1},
		{"kazakstan", "kazakhstan", 1},
		{"abc", "xyz", 3},
	}
	for _, tt := range tests {
		if got := osaDistance([]rune(tt.a), []rune(tt.b), 5); got != tt.want {
			t.Errorf("osaDistance(%q, %q) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
	}
}

func embeddedKB(t testing.TB) *KB {
	t.Helper()
	kb, err := Default()
	if err != nil {
		t.Fatalf("Default() error: %v", err)
	}
	return kb
}

// TestSameTerms checks pairs of wordings that must mean the same to the matcher, and
// pairs that must not.
func TestSameTerms(t *testing.T) {
	kb := embeddedKB(t)
	same := [][2]string{
		{"tourism", "tourizm"},
		{"tourism", "turism"},
		{"organisation", "organization"},
		{"chairmanship", "presidency"},
		{"chair", "presidency"},
		{"Shanghai Cooperation Organisation", "SCO"},
		{"Shanghai Cooperation Organization", "sco"},
		{"KZ", "Kazakhstan"},
		{"Kazakhstan's", "kazakhstan"},
		{"trans-caspian", "Trans Caspian"},
		{"harmonisation", "harmonization"},
		{"favourable", "favorable"},
		{"separatisim", "separatism"},
		{"exercises", "exercise"},
		{"corridors", "corridor"},
	}
	for _, p := range same {
		a, b := kb.Terms(p[0]), kb.Terms(p[1])
		if len(a) == 0 || !slices.Equal(a, b) {
			t.Errorf("Terms(%q) = %q, Terms(%q) = %q, want the same", p[0], a, p[1], b)
		}
	}
	different := [][2]string{
		{"president", "presidency"},
		{"army", "military"},
		{"export", "expert"},
		{"universal", "university"},
		{"Iran", "Kazakhstan"},
	}
	for _, p := range different {
		a, b := kb.Terms(p[0]), kb.Terms(p[1])
		if len(a) > 0 && slices.Equal(a, b) {
			t.Errorf("Terms(%q) = Terms(%q) = %q, want different", p[0], p[1], a)
		}
	}
}

func TestAsksForNumber(t *testing.T) {
	tests := []struct {
		q    string
		want bool
	}{
		{"When is the next SCO summit?", true},
		{"How old is Sneha Yadav?", true},
		{"how many founding members", true},
		{"What year was the charter signed", true},
		{"How does Kazakhstan fight terrorism?", false},
		{"which transport corridors", false},
		{"What is the SCO Interbank Consortium?", false},
	}
	for _, tt := range tests {
		buf, toks, _ := tokenize(nil, nil, tt.q, MaxQueryBytes)
		if got := asksForNumber(buf, toks); got != tt.want {
			t.Errorf("asksForNumber(%q) = %v, want %v", tt.q, got, tt.want)
		}
	}
}

func TestStatesNumber(t *testing.T) {
	for _, tt := range []struct {
		text string
		want bool
	}{{"from July 2023 to July 2024", true}, {"the six founding members", true}, {"cultural festivals", false}} {
		if got := statesNumber(tt.text); got != tt.want {
			t.Errorf("statesNumber(%q) = %v, want %v", tt.text, got, tt.want)
		}
	}
}

func TestAnalyzerLanguages(t *testing.T) {
	for _, tt := range []struct {
		lang     Language
		in, want string
		stop     string
	}{
		{English, "presidencies", "presid", "the"},
		{Russian, "председательства", "председательств", "и"},
	} {
		a, err := NewAnalyzer(tt.lang)
		if err != nil {
			t.Fatal(err)
		}
		if got := a.Stem(tt.in); got != tt.want {
			t.Errorf("%s Stem(%q) = %q, want %q", tt.lang, tt.in, got, tt.want)
		}
		if !a.IsStop(tt.stop) {
			t.Errorf("%s IsStop(%q) = false", tt.lang, tt.stop)
		}
	}
	if _, err := NewAnalyzer("klingon"); err == nil {
		t.Errorf("NewAnalyzer(klingon): no error")
	}
}

func TestSingleDigitsAreRead(t *testing.T) {
	kb := embeddedKB(t)
	// The knowledge base has no "9", so it must count as an unknown number.
	if got := kb.Answer("9 members 2023").Why.Unknown; len(got) != 1 || got[0] != "9" {
		t.Errorf(`Answer("9 members 2023").Why.Unknown = %q, want ["9"]: a digit is a word`, got)
	}
}
