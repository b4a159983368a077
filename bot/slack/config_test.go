package slack

import (
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

func TestConfigFromEnv(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		want    Config
		wantErr string
	}{
		{name: "nothing set", env: nil, want: Config{Command: "/sco"}},
		{name: "HTTP", env: map[string]string{"SLACK_SIGNING_SECRET": " s3cret ", "SLACK_BOT_TOKEN": "xoxb-1", "SLACK_ADMIN_IDS": "U1, U2 U3,,"},
			want: Config{SigningSecret: "s3cret", BotToken: "xoxb-1", Command: "/sco", AdminIDs: []string{"U1", "U2", "U3"}}},
		{name: "Socket Mode", env: map[string]string{"SLACK_APP_TOKEN": "xapp-1", "SLACK_BOT_TOKEN": "xoxb-1", "SLACK_COMMAND": "/ask", "SLACK_API_URL": "http://127.0.0.1:1/api"},
			want: Config{AppToken: "xapp-1", BotToken: "xoxb-1", Command: "/ask", APIURL: "http://127.0.0.1:1/api"}},
		{name: "user token as bot token", env: map[string]string{"SLACK_BOT_TOKEN": "xoxp-user-SECRETVALUE"}, wantErr: "SLACK_BOT_TOKEN"},
		{name: "bot token as app token", env: map[string]string{"SLACK_APP_TOKEN": "xoxb-SECRETVALUE"}, wantErr: "SLACK_APP_TOKEN"},
		{name: "command without slash", env: map[string]string{"SLACK_COMMAND": "sco"}, wantErr: "SLACK_COMMAND"},
		{name: "command with space", env: map[string]string{"SLACK_COMMAND": "/s co"}, wantErr: "SLACK_COMMAND"},
		{name: "API URL not http", env: map[string]string{"SLACK_API_URL": "ftp://x/SECRETVALUE"}, wantErr: "SLACK_API_URL"},
		{name: "API URL with credentials", env: map[string]string{"SLACK_API_URL": "https://u:SECRETVALUE@x/"}, wantErr: "SLACK_API_URL"},
		{name: "admin id that is a mention", env: map[string]string{"SLACK_ADMIN_IDS": "<@U1>"}, wantErr: "SLACK_ADMIN_IDS"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ConfigFromEnv(func(k string) string { return tt.env[k] })
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error: got %v, want one naming %s", err, tt.wantErr)
				}
				if strings.Contains(err.Error(), "SECRETVALUE") {
					t.Errorf("the error repeats the value: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprintf("%+v", got) != fmt.Sprintf("%+v", tt.want) {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestNewErrors(t *testing.T) {
	var h Handler = slowHandler{}
	tests := []struct {
		name string
		cfg  Config
		h    Handler
	}{
		{"no handler", Config{SigningSecret: "s"}, nil},
		{"stray secret", Config{SigningSecret: "s", BotToken: "xoxb-SECRETVALUE", AppToken: "xoxb-SECRETVALUE"}, h},
		{"nothing enabled", Config{BotToken: "xoxb-1"}, h},
		{"bad token", Config{SigningSecret: "s", BotToken: "SECRETVALUE"}, h},
	}
	for _, tt := range tests {
		_, err := New(tt.cfg, tt.h)
		if err == nil {
			t.Errorf("%s: got nil error", tt.name)
		} else if strings.Contains(err.Error(), "SECRETVALUE") {
			t.Errorf("%s: the error repeats a secret: %v", tt.name, err)
		}
	}
	b, err := New(Config{SigningSecret: "s", APIURL: "http://127.0.0.1:9/api", Logger: slog.New(slog.DiscardHandler)}, h)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := b.cfg.Command, DefaultCommand; got != want {
		t.Errorf("command: got %q, want %q", got, want)
	}
	if got, want := b.cfg.apiURL(), "http://127.0.0.1:9/api/"; got != want {
		t.Errorf("API URL: got %q, want %q (slack-go appends method names)", got, want)
	}
}
