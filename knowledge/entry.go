package knowledge

import (
	"bytes"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Entry is one answer: the text scobot replies with and the words that lead to it.
type Entry struct {
	ID        string   // unique lowercase slug, the file name without ".md"
	Section   string   // id of the article section the answer draws from
	Title     string   // a short question or heading
	Keywords  []string // words and phrases that identify the entry
	Questions []string // other ways people ask it; matched with the most weight
	Quote     string   // a passage of the article that supports the answer
	Body      string   // the answer, in the Markdown subset of Render*
	File      string   // where it was loaded from, for error messages

	lines map[string]int // front matter field → line, for problems found later
}

// Section is one of the article's sections. Answer entries name theirs by ID.
type Section struct {
	ID      string
	Heading string
}

// Sections lists the article's sections in the article's order. The ids are fixed: logs,
// question sets and every adapter refer to them.
var Sections = []Section{
	{"overview", "Overview: Kazakhstan, the SCO and the 2023–2024 presidency"},
	{"regional-security", "Enhancing Regional Security and Stability"},
	{"economic-cooperation", "Economic Cooperation and Connectivity"},
	{"stability-and-security", "Promoting Regional Stability and Security"},
	{"connectivity-infrastructure", "Regional Connectivity and Infrastructure Development"},
	{"cultural-exchanges", "Cultural and People-to-People Exchanges"},
	{"multilateral-diplomacy", "Active Multilateral Diplomacy"},
	{"regional-integration", "Championing Regional Integration"},
	{"global-role", "Expanding the SCO's Global Role"},
	{"observer-states", "Facilitating Dialogue and Cooperation with Observer States and Partners"},
	{"emerging-challenges", "Addressing Emerging Challenges and Opportunities"},
	{"conclusion", "Conclusion"},
	{"author", "About the author, Sneha Yadav"},
}

// SectionByID returns the section with the given id.
func SectionByID(id string) (Section, bool) {
	for _, s := range Sections {
		if s.ID == id {
			return s, true
		}
	}
	return Section{}, false
}

// MaxBodyLen is the longest answer body, in bytes, that validation accepts: an answer
// has to stay readable in a chat window.
const MaxBodyLen = 1500

// Problem is one thing wrong with a knowledge base, with where it is.
type Problem struct {
	File    string // relative to the knowledge base directory
	Line    int    // 1-based; 0 when the problem is about the whole file
	Msg     string
	Warning bool // a warning does not stop the knowledge base from loading
}

func (p Problem) String() string {
	kind := "error"
	if p.Warning {
		kind = "warning"
	}
	if p.Line > 0 {
		return fmt.Sprintf("%s:%d: %s: %s", p.File, p.Line, kind, p.Msg)
	}
	return fmt.Sprintf("%s: %s: %s", p.File, kind, p.Msg)
}

// LoadError is returned when a knowledge base has errors. It lists every problem found,
// warnings included, so an admin can fix them all in one go.
type LoadError struct {
	Problems []Problem
}

func (e *LoadError) Error() string {
	var b strings.Builder
	n := 0
	for _, p := range e.Problems {
		if !p.Warning {
			n++
		}
	}
	fmt.Fprintf(&b, "knowledge base has %d error(s)", n)
	for _, p := range e.Problems {
		b.WriteString("\n  ")
		b.WriteString(p.String())
	}
	return b.String()
}

var idPattern = regexp.MustCompile(`^[a-z0-9]+(?:-[a-z0-9]+)*$`)

// frontMatter is the YAML header of an answer file.
type frontMatter struct {
	ID        string   `yaml:"id"`
	Section   string   `yaml:"section"`
	Title     string   `yaml:"title"`
	Keywords  []string `yaml:"keywords"`
	Questions []string `yaml:"questions"`
	Quote     string   `yaml:"quote"`
}

var errNoFrontMatter = errors.New("no front matter: the file must start with a line \"---\", then the YAML fields, then another \"---\"")

// ParseEntry parses one answer file: YAML front matter between "---" lines, then the
// Markdown answer. It checks what a single file can show (fields, id form, section,
// body length) and returns every problem it finds; the entry is nil when any problem is
// an error. Checks that need the other files, like duplicate ids and quotes against the
// article, are Load's.
func ParseEntry(file string, data []byte) (*Entry, []Problem) {
	var probs []Problem
	fail := func(line int, format string, args ...any) {
		probs = append(probs, Problem{File: file, Line: line, Msg: fmt.Sprintf(format, args...)})
	}
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf")) // editors on Windows add a BOM
	head, body, bodyLine, err := splitFrontMatter(data)
	if err != nil {
		fail(1, "%v", err)
		return nil, probs
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(head, &doc); err != nil {
		fail(yamlErrLine(err)+1, "malformed front matter: %s", yamlErrText(err))
		return nil, probs
	}
	if len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
		fail(2, "front matter must be a set of fields like \"id: my-answer\"")
		return nil, probs
	}
	m := doc.Content[0]
	lines := map[string]int{}
	known := map[string]bool{"id": true, "section": true, "title": true, "keywords": true, "questions": true, "quote": true}
	for i := 0; i+1 < len(m.Content); i += 2 {
		k := m.Content[i]
		if !known[k.Value] {
			fail(k.Line+1, "unknown field %q (known: id, section, title, keywords, questions, quote)", k.Value)
			continue
		}
		if _, dup := lines[k.Value]; dup {
			fail(k.Line+1, "field %q appears twice", k.Value)
		}
		lines[k.Value] = k.Line + 1
	}
	var fm frontMatter
	if err := m.Decode(&fm); err != nil {
		fail(yamlErrLine(err)+1, "malformed front matter: %s", yamlErrText(err))
		return nil, probs
	}
	line := func(field string) int {
		if l, ok := lines[field]; ok {
			return l
		}
		return 1
	}
	e := &Entry{
		ID:        strings.TrimSpace(fm.ID),
		Section:   strings.TrimSpace(fm.Section),
		Title:     strings.TrimSpace(fm.Title),
		Keywords:  trimAll(fm.Keywords),
		Questions: trimAll(fm.Questions),
		Quote:     strings.TrimSpace(fm.Quote),
		Body:      strings.TrimSpace(string(body)),
		File:      file,
		lines:     lines,
	}
	switch {
	case e.ID == "":
		fail(line("id"), "missing id")
	case !idPattern.MatchString(e.ID):
		fail(line("id"), "id %q must be a lowercase slug: letters, digits and single hyphens", e.ID)
	}
	if e.Section == "" {
		fail(line("section"), "missing section")
	} else if _, ok := SectionByID(e.Section); !ok {
		fail(line("section"), "unknown section %q (known: %s)", e.Section, sectionIDs())
	}
	if e.Title == "" {
		fail(line("title"), "missing title")
	}
	if e.Body == "" {
		fail(bodyLine, "empty answer: write the answer below the closing \"---\"")
	} else if len(e.Body) > MaxBodyLen {
		fail(bodyLine, "answer is %d characters; keep it under %d so it reads well in a chat", len(e.Body), MaxBodyLen)
	}
	if e.Body != "" {
		for i, l := range strings.Split(strings.ReplaceAll(string(body), "\r\n", "\n"), "\n") {
			if msg := unsupportedMarkdown(l); msg != "" {
				fail(bodyLine+i, "%s; answers use paragraphs, **bold**, *italics*, - lists and [links](https://...) only", msg)
			}
		}
	}
	for _, p := range probs {
		if !p.Warning {
			return nil, probs
		}
	}
	return e, probs
}

var htmlTag = regexp.MustCompile(`</?[a-zA-Z][a-zA-Z0-9]*(\s[^>]*)?/?>`)

// unsupportedMarkdown names the Markdown a line uses that the chat renderers do not
// support, or returns "". Telegram, Slack and the web chat each render answers, and
// only a small subset renders the same on all three.
func unsupportedMarkdown(line string) string {
	t := strings.TrimSpace(line)
	switch {
	case strings.HasPrefix(t, "#"):
		return "a heading"
	case strings.HasPrefix(t, "```") || strings.HasPrefix(t, "~~~"):
		return "a code block"
	case strings.HasPrefix(t, "|") && strings.Count(t, "|") >= 2:
		return "a table"
	case strings.HasPrefix(t, "!["):
		return "an image"
	case htmlTag.MatchString(t):
		return "HTML"
	}
	return ""
}

// splitFrontMatter returns the YAML between the first two "---" lines, the rest, and the
// 1-based line where the rest starts.
func splitFrontMatter(data []byte) (head, body []byte, bodyLine int, err error) {
	text := bytes.ReplaceAll(data, []byte("\r\n"), []byte("\n"))
	if !bytes.HasPrefix(text, []byte("---\n")) {
		return nil, nil, 0, errNoFrontMatter
	}
	rest := text[4:]
	line := 2
	for {
		nl := bytes.IndexByte(rest, '\n')
		var l []byte
		if nl < 0 {
			l = rest
		} else {
			l = rest[:nl]
		}
		if string(bytes.TrimRight(l, " \t")) == "---" {
			head = text[4 : len(text)-len(rest)]
			if nl < 0 {
				return head, nil, line + 1, nil
			}
			return head, rest[nl+1:], line + 1, nil
		}
		if nl < 0 {
			break
		}
		rest = rest[nl+1:]
		line++
	}
	return nil, nil, 0, errors.New("front matter is not closed: add a line \"---\" after the fields")
}

var yamlLine = regexp.MustCompile(`line (\d+)`)

// yamlErrLine finds the line a yaml error names, relative to the front matter.
func yamlErrLine(err error) int {
	if m := yamlLine.FindStringSubmatch(err.Error()); m != nil {
		n := 0
		fmt.Sscan(m[1], &n)
		return n
	}
	return 1
}

// yamlErrText drops the library's prefix and line number, which Problem already shows.
func yamlErrText(err error) string {
	s := err.Error()
	s = strings.TrimPrefix(s, "yaml: ")
	s = strings.ReplaceAll(s, "unmarshal errors:\n  ", "")
	s = yamlLine.ReplaceAllString(s, "")
	s = strings.TrimLeft(s, ": ")
	s = strings.ReplaceAll(s, "!!str", "text")
	s = strings.ReplaceAll(s, "!!seq", "list")
	s = strings.ReplaceAll(s, "!!map", "set of fields")
	return strings.TrimSpace(s)
}

func trimAll(in []string) []string {
	out := make([]string, 0, len(in))
	for _, s := range in {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

func sectionIDs() string {
	ids := make([]string, len(Sections))
	for i, s := range Sections {
		ids[i] = s.ID
	}
	return strings.Join(ids, ", ")
}

// sortProblems orders problems by file and line, so reports are stable.
func sortProblems(ps []Problem) {
	sort.SliceStable(ps, func(i, j int) bool {
		if ps[i].File != ps[j].File {
			return ps[i].File < ps[j].File
		}
		return ps[i].Line < ps[j].Line
	})
}
