package telegram

import (
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"golang.org/x/time/rate"
)

// DefaultAPIEndpoint is the Bot API's address as a Sprintf format: the token, then the
// method. A self-hosted Bot API server (or a test's fake) replaces the host.
const DefaultAPIEndpoint = "https://api.telegram.org/bot%s/%s"

// DefaultPollTimeout is how long one getUpdates call waits for an update. Telegram
// suggests long polls; 50 s stays under the usual 60 s idle timeouts of proxies.
const DefaultPollTimeout = 50 * time.Second

// Config configures a Bot. A zero Token means Telegram is off; New refuses it.
type Config struct {
	Token         string        // TELEGRAM_BOT_TOKEN
	APIEndpoint   string        // TELEGRAM_API_ENDPOINT, default DefaultAPIEndpoint
	WebhookURL    string        // TELEGRAM_WEBHOOK_URL; empty means long polling
	WebhookSecret string        // TELEGRAM_WEBHOOK_SECRET; required with WebhookURL
	AdminIDs      []int64       // TELEGRAM_ADMIN_IDS: users allowed /reload, /stats, /unanswered
	NoPacing      bool          // send as fast as possible: benchmarks and tests only
	PollTimeout   time.Duration // default DefaultPollTimeout; tests shorten it
	Logger        *slog.Logger  // default slog.Default()

	// Knobs for tests: zero means the production value.
	pace         *pacing       // send rates
	retryBase    time.Duration // first backoff after a transient error (500 ms)
	drainTimeout time.Duration // how long Run waits for queued sends at shutdown (10 s)
}

// pacing is how fast the bot may send: Telegram's published advice is about one
// message a second per chat, 20 a minute per group and 30 a second in all.
type pacing struct {
	chat, group, global                rate.Limit
	chatBurst, groupBurst, globalBurst int
}

// defaultPacing follows Telegram's bot FAQ. The small per-chat burst lets a split answer
// arrive in one go; Telegram tolerates short bursts.
var defaultPacing = pacing{
	chat: 1, chatBurst: 3,
	group: rate.Limit(20.0 / 60), groupBurst: 3,
	global: 30, globalBurst: 30,
}

// The environment variables ConfigFromEnv reads.
const (
	EnvToken         = "TELEGRAM_BOT_TOKEN"
	EnvAPIEndpoint   = "TELEGRAM_API_ENDPOINT"
	EnvWebhookURL    = "TELEGRAM_WEBHOOK_URL"
	EnvWebhookSecret = "TELEGRAM_WEBHOOK_SECRET"
	EnvAdminIDs      = "TELEGRAM_ADMIN_IDS"
)

// ConfigFromEnv reads the TELEGRAM_* variables through getenv (os.Getenv in main, a map
// in tests). An unset TELEGRAM_BOT_TOKEN returns a zero Config: Telegram stays off,
// unless other TELEGRAM_* variables are set, which is then an error since they would be
// ignored. Errors name the variable and never contain the token or the secret.
func ConfigFromEnv(getenv func(string) string) (Config, error) {
	get := func(k string) string { return strings.TrimSpace(getenv(k)) }
	cfg := Config{
		Token:         get(EnvToken),
		APIEndpoint:   get(EnvAPIEndpoint),
		WebhookURL:    get(EnvWebhookURL),
		WebhookSecret: get(EnvWebhookSecret),
	}
	ids, idErr := parseAdminIDs(get(EnvAdminIDs))
	cfg.AdminIDs = ids
	if cfg.Token == "" {
		var set []string
		for _, k := range []string{EnvAPIEndpoint, EnvWebhookURL, EnvWebhookSecret, EnvAdminIDs} {
			if get(k) != "" {
				set = append(set, k)
			}
		}
		if len(set) > 0 {
			return Config{}, fmt.Errorf("%s is set but %s is not", strings.Join(set, ", "), EnvToken)
		}
		return Config{}, nil
	}
	if cfg.APIEndpoint == "" {
		cfg.APIEndpoint = DefaultAPIEndpoint
	}
	return cfg, errors.Join(idErr, cfg.validate())
}

// parseAdminIDs parses "123, 456": comma-separated numeric Telegram user ids.
func parseAdminIDs(s string) ([]int64, error) {
	if s == "" {
		return nil, nil
	}
	var ids []int64
	seen := map[int64]bool{}
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		id, err := strconv.ParseInt(f, 10, 64)
		if err != nil || id <= 0 {
			return nil, fmt.Errorf("%s: %q is not a numeric Telegram user id", EnvAdminIDs, f)
		}
		if !seen[id] {
			seen[id] = true
			ids = append(ids, id)
		}
	}
	return ids, nil
}

var (
	tokenPattern  = regexp.MustCompile(`^[0-9]+:[A-Za-z0-9_-]+$`)
	secretPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,256}$`)
)

// validate checks the fields New depends on, with errors that name the variable.
func (c Config) validate() error {
	var errs []error
	if c.Token == "" {
		errs = append(errs, fmt.Errorf("%s is empty", EnvToken))
	} else if !tokenPattern.MatchString(c.Token) {
		// Never quote the token: it is a secret even when mistyped.
		errs = append(errs, fmt.Errorf("%s does not look like a bot token (want <bot id>:<secret> from @BotFather)", EnvToken))
	}
	if c.APIEndpoint != "" {
		if strings.Count(c.APIEndpoint, "%s") != 2 || strings.Count(c.APIEndpoint, "%") != 2 {
			errs = append(errs, fmt.Errorf("%s %q: want a format with two %%s, for the token and the method, like %q", EnvAPIEndpoint, c.APIEndpoint, DefaultAPIEndpoint))
		} else if u, err := url.Parse(fmt.Sprintf(c.APIEndpoint, "t", "m")); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, fmt.Errorf("%s %q: not an http(s) URL", EnvAPIEndpoint, c.APIEndpoint))
		}
	}
	if c.WebhookURL != "" {
		if u, err := url.Parse(c.WebhookURL); err != nil || u.Scheme != "https" || u.Host == "" {
			errs = append(errs, fmt.Errorf("%s %q: Telegram only calls https URLs", EnvWebhookURL, c.WebhookURL))
		}
		if c.WebhookSecret == "" {
			errs = append(errs, fmt.Errorf("%s is required with %s, so that forged updates can be refused", EnvWebhookSecret, EnvWebhookURL))
		}
	}
	if c.WebhookSecret != "" && !secretPattern.MatchString(c.WebhookSecret) {
		errs = append(errs, fmt.Errorf("%s: want 1-256 characters of A-Z, a-z, 0-9, _ and -", EnvWebhookSecret))
	}
	if c.PollTimeout < 0 {
		errs = append(errs, fmt.Errorf("poll timeout %v: must not be negative", c.PollTimeout))
	}
	return errors.Join(errs...)
}

// withDefaults fills the zero fields.
func (c Config) withDefaults() Config {
	if c.APIEndpoint == "" {
		c.APIEndpoint = DefaultAPIEndpoint
	}
	if c.PollTimeout == 0 {
		c.PollTimeout = DefaultPollTimeout
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.pace == nil {
		p := defaultPacing
		c.pace = &p
	}
	if c.retryBase <= 0 {
		c.retryBase = 500 * time.Millisecond
	}
	if c.drainTimeout <= 0 {
		c.drainTimeout = 10 * time.Second
	}
	return c
}

// pollSeconds is the getUpdates timeout parameter: whole seconds, at least 1, since 0
// would turn long polling into a busy loop of short polls.
func (c Config) pollSeconds() int {
	s := int((c.PollTimeout + time.Second - 1) / time.Second)
	return max(s, 1)
}

// httpTimeout is the HTTP client's timeout: above the poll timeout, or the client
// would cut off every long poll that finds nothing.
func (c Config) httpTimeout() time.Duration {
	return time.Duration(c.pollSeconds())*time.Second + 15*time.Second
}
