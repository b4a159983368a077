package knowledge

import (
	"fmt"
	"strings"

	"go.yaml.in/yaml/v3"
)

// SynonymsFile is the name of the synonyms file in a knowledge base directory.
const SynonymsFile = "synonyms.yaml"

// synonymGroup is one line of synonyms.yaml: words or phrases that mean the same.
type synonymGroup struct {
	Members []string
	Line    int
}

// ParseSynonyms parses synonyms.yaml:
//
//	groups:
//	  - [sco, shanghai cooperation organization, shanghai cooperation organisation]
//	  - [presidency, chairmanship, chair]
//
// Each group needs at least two members. Problems carry the file's line numbers.
func ParseSynonyms(file string, data []byte) ([]synonymGroup, []Problem) {
	var probs []Problem
	fail := func(line int, format string, args ...any) {
		probs = append(probs, Problem{File: file, Line: line, Msg: fmt.Sprintf(format, args...)})
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		fail(yamlErrLine(err), "malformed synonyms file: %s", yamlErrText(err))
		return nil, probs
	}
	if len(doc.Content) == 0 {
		return nil, nil // an empty file: no synonyms
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		fail(root.Line, "the synonyms file must have a \"groups:\" list")
		return nil, probs
	}
	var groupsNode *yaml.Node
	for i := 0; i+1 < len(root.Content); i += 2 {
		if root.Content[i].Value == "groups" {
			groupsNode = root.Content[i+1]
		} else {
			fail(root.Content[i].Line, "unknown field %q (the file has one field, \"groups\")", root.Content[i].Value)
		}
	}
	if groupsNode == nil {
		fail(1, "the synonyms file must have a \"groups:\" list")
		return nil, probs
	}
	if groupsNode.Kind != yaml.SequenceNode {
		fail(groupsNode.Line, "\"groups\" must be a list of lists, like - [sco, shanghai cooperation organization]")
		return nil, probs
	}
	var groups []synonymGroup
	for _, g := range groupsNode.Content {
		if g.Kind != yaml.SequenceNode {
			fail(g.Line, "each group must be a list, like [presidency, chairmanship]")
			continue
		}
		var members []string
		for _, m := range g.Content {
			if m.Kind != yaml.ScalarNode {
				fail(m.Line, "a group member must be a word or phrase")
				continue
			}
			if v := strings.TrimSpace(m.Value); v != "" {
				members = append(members, v)
			}
		}
		if len(members) < 2 {
			fail(g.Line, "a group needs at least two words or phrases")
			continue
		}
		groups = append(groups, synonymGroup{Members: members, Line: g.Line})
	}
	return groups, probs
}
