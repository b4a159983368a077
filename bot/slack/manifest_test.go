package slack

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"slices"
	"testing"

	"go.yaml.in/yaml/v3"
)

// TestManifest keeps slack-app-manifest.yaml in step with the adapter: the command,
// the endpoints it registers, the events it handles and the scopes they need.
func TestManifest(t *testing.T) {
	data, err := os.ReadFile("../../slack-app-manifest.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var m struct {
		Features struct {
			AppHome struct {
				MessagesTabEnabled         bool `yaml:"messages_tab_enabled"`
				MessagesTabReadOnlyEnabled bool `yaml:"messages_tab_read_only_enabled"`
			} `yaml:"app_home"`
			BotUser struct {
				DisplayName string `yaml:"display_name"`
			} `yaml:"bot_user"`
			SlashCommands []struct {
				Command      string `yaml:"command"`
				URL          string `yaml:"url"`
				ShouldEscape *bool  `yaml:"should_escape"`
			} `yaml:"slash_commands"`
		} `yaml:"features"`
		OAuth struct {
			Scopes struct {
				Bot []string `yaml:"bot"`
			} `yaml:"scopes"`
		} `yaml:"oauth_config"`
		Settings struct {
			Events struct {
				RequestURL string   `yaml:"request_url"`
				BotEvents  []string `yaml:"bot_events"`
			} `yaml:"event_subscriptions"`
			Interactivity struct {
				IsEnabled  bool   `yaml:"is_enabled"`
				RequestURL string `yaml:"request_url"`
			} `yaml:"interactivity"`
			SocketMode *bool `yaml:"socket_mode_enabled"`
		} `yaml:"settings"`
	}
	if err := yaml.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	if len(m.Features.SlashCommands) != 1 {
		t.Fatalf("slash commands: got %d, want 1", len(m.Features.SlashCommands))
	}
	sc := m.Features.SlashCommands[0]
	if sc.Command != DefaultCommand {
		t.Errorf("command: got %q, want %q", sc.Command, DefaultCommand)
	}
	if sc.ShouldEscape == nil || *sc.ShouldEscape {
		t.Error("should_escape: want false, so that the text arrives as typed")
	}
	if m.Settings.SocketMode == nil {
		t.Error("socket_mode_enabled should be spelled out, as the switch to flip")
	}
	if !m.Features.AppHome.MessagesTabEnabled || m.Features.AppHome.MessagesTabReadOnlyEnabled {
		t.Error("the messages tab must be enabled and writable, or nobody can write to the bot")
	}
	if !m.Settings.Interactivity.IsEnabled {
		t.Error("interactivity must be enabled for the buttons")
	}

	// Every URL in the manifest is an endpoint Register serves.
	b, err := New(Config{SigningSecret: "s", Logger: slog.New(slog.DiscardHandler)}, slowHandler{})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	b.Register(mux)
	for _, raw := range []string{sc.URL, m.Settings.Events.RequestURL, m.Settings.Interactivity.RequestURL} {
		u, err := url.Parse(raw)
		if err != nil || u.Scheme != "https" {
			t.Errorf("URL %q: want https", raw)
			continue
		}
		if _, pattern := mux.Handler(httptest.NewRequest(http.MethodPost, u.Path, nil)); pattern == "" {
			t.Errorf("URL %q: the adapter serves no such path", raw)
		}
	}
	for _, ev := range []string{"app_mention", "message.im"} {
		if !slices.Contains(m.Settings.Events.BotEvents, ev) {
			t.Errorf("bot events %v lack %s", m.Settings.Events.BotEvents, ev)
		}
	}
	for _, sc := range []string{"commands", "chat:write", "app_mentions:read", "im:history"} {
		if !slices.Contains(m.OAuth.Scopes.Bot, sc) {
			t.Errorf("bot scopes %v lack %s", m.OAuth.Scopes.Bot, sc)
		}
	}
}
