package knowledge

import (
	"fmt"
	"os"
	"sort"
	"testing"
)

// TestTune searches matcher parameters on the tuning question sets. It is a tool, not a
// check: it runs only with SCOBOT_TUNE=1 and prints the best parameter sets, which a
// person then reviews against the held-out set before changing DefaultParams.
func TestTune(t *testing.T) {
	if os.Getenv("SCOBOT_TUNE") == "" {
		t.Skip("set SCOBOT_TUNE=1 to search parameters")
	}
	var qs []EvalQuestion
	for _, f := range []string{"testdata/eval/tune.yaml", "../../shared/eval/dev.yaml"} {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		q, err := ParseEvalFile(f, data)
		if err != nil {
			t.Fatal(err)
		}
		qs = append(qs, q...)
	}
	type result struct {
		p             Params
		top1, decl, o float64
	}
	var results []result
	for _, wq := range []float64{4} {
		for _, wk := range []float64{3} {
			for _, wt := range []float64{2} {
				for _, bq := range []float64{0.5} {
					for _, uw := range []float64{0.4, 0.5, 0.6, 0.7, 0.8, 1.0} {
						p := DefaultParams
						p.WQuestions, p.WKeywords, p.WTitle, p.BQuestions, p.UnknownWeight = wq, wk, wt, bq, uw
						kb, err := LoadParams(Embedded(), p)
						if err != nil {
							t.Fatal(err)
						}
						// For each parameter set, pick the threshold that balances the two rates.
						for _, th := range []float64{0.4, 0.45, 0.5, 0.55, 0.6, 0.65} {
							kb.idx.params.Threshold = th
							r := Evaluate(kb, qs)
							results = append(results, result{kb.idx.params, r.Top1Rate(), r.DeclinedRate(), min(r.Top1Rate(), r.DeclinedRate())*2 + r.Top1Rate() + r.DeclinedRate()})
						}
					}
				}
			}
		}
	}
	sort.SliceStable(results, func(i, j int) bool { return results[i].o > results[j].o })
	for _, r := range results[:25] {
		p := r.p
		fmt.Printf("top1 %.3f decl %.3f  wq %.0f wk %.0f wt %.0f bq %.1f uw %.1f th %.2f\n", r.top1, r.decl, p.WQuestions, p.WKeywords, p.WTitle, p.BQuestions, p.UnknownWeight, p.Threshold)
	}
}
