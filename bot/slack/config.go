package slack

import (
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"unicode"
)

// DefaultCommand is the slash command's name when SLACK_COMMAND is not set. The app
// manifest (slack-app-manifest.yaml) declares the same name.
const DefaultCommand = "/sco"

// Config configures the Slack adapter. ConfigFromEnv fills it from the environment.
type Config struct {
	SigningSecret string   // SLACK_SIGNING_SECRET: switches the HTTP endpoints on
	BotToken      string   // SLACK_BOT_TOKEN (xoxb-): replies to mentions and DMs
	AppToken      string   // SLACK_APP_TOKEN (xapp-): Socket Mode instead of HTTP
	APIURL        string   // SLACK_API_URL, the Web API base (tests)
	Command       string   // SLACK_COMMAND, default "/sco"
	AdminIDs      []string // SLACK_ADMIN_IDS
	Logger        *slog.Logger
}

// ConfigFromEnv reads the SLACK_* variables. A configuration with neither a signing
// secret nor an app token is valid and simply not Enabled, so the caller can skip
// Slack. Errors name the variable but never repeat its value, which may be a secret.
func ConfigFromEnv(getenv func(string) string) (Config, error) {
	cfg := Config{
		SigningSecret: strings.TrimSpace(getenv("SLACK_SIGNING_SECRET")),
		BotToken:      strings.TrimSpace(getenv("SLACK_BOT_TOKEN")),
		AppToken:      strings.TrimSpace(getenv("SLACK_APP_TOKEN")),
		APIURL:        strings.TrimSpace(getenv("SLACK_API_URL")),
		Command:       strings.TrimSpace(getenv("SLACK_COMMAND")),
		AdminIDs: strings.FieldsFunc(getenv("SLACK_ADMIN_IDS"), func(r rune) bool {
			return r == ',' || unicode.IsSpace(r)
		}),
	}
	if cfg.Command == "" {
		cfg.Command = DefaultCommand
	}
	if err := cfg.validate(); err != nil {
		return Config{}, err
	}
	return cfg, nil
}

// Enabled reports whether the configuration switches Slack on: a signing secret for the
// HTTP endpoints or an app token for Socket Mode.
func (c Config) Enabled() bool { return c.SigningSecret != "" || c.AppToken != "" }

// SocketMode reports whether the adapter talks to Slack over Socket Mode rather than
// serving the HTTP endpoints.
func (c Config) SocketMode() bool { return c.AppToken != "" }

// validate checks the shape of every value without echoing any of them: a token pasted
// into the wrong variable must not end up in a log line.
func (c Config) validate() error {
	var errs []error
	if c.BotToken != "" && !strings.HasPrefix(c.BotToken, "xoxb-") {
		errs = append(errs, errors.New("SLACK_BOT_TOKEN: want a bot token, which starts with xoxb-"))
	}
	if c.AppToken != "" && !strings.HasPrefix(c.AppToken, "xapp-") {
		errs = append(errs, errors.New("SLACK_APP_TOKEN: want an app-level token, which starts with xapp-"))
	}
	if c.Command != "" && (!strings.HasPrefix(c.Command, "/") || len(c.Command) < 2 || len(c.Command) > 32 ||
		strings.IndexFunc(c.Command, unicode.IsSpace) >= 0) {
		errs = append(errs, fmt.Errorf("SLACK_COMMAND %q: want a slash command such as %s", c.Command, DefaultCommand))
	}
	if c.APIURL != "" {
		u, err := url.Parse(c.APIURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
			errs = append(errs, errors.New("SLACK_API_URL: want an http(s) URL without credentials, such as https://slack.com/api/"))
		}
	}
	for _, id := range c.AdminIDs {
		if strings.ContainsAny(id, "<>@&") {
			errs = append(errs, fmt.Errorf("SLACK_ADMIN_IDS: %q is not a user id such as U012AB3CD", id))
			break
		}
	}
	return errors.Join(errs...)
}

// apiURL returns the Web API base with the trailing slash slack-go needs, because it
// concatenates the base and the method name.
func (c Config) apiURL() string {
	if c.APIURL == "" {
		return ""
	}
	return strings.TrimRight(c.APIURL, "/") + "/"
}
