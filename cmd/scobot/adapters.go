package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/scobot/scobot/bot"
	"github.com/scobot/scobot/bot/slack"
	"github.com/scobot/scobot/bot/telegram"
	"github.com/scobot/scobot/storage"
)

// startAdapters switches on the chat platforms whose environment variables are set and
// mounts their HTTP endpoints on mux. Their configuration comes only from the
// environment, because it holds tokens.
func startAdapters(ctx context.Context, getenv func(string) string, core *bot.Core, db *storage.DB, mux *http.ServeMux, logger *slog.Logger) (map[string]adapter, error) {
	out := map[string]adapter{}

	tcfg, err := telegram.ConfigFromEnv(getenv)
	if err != nil {
		return nil, fmt.Errorf("telegram configuration: %w", err)
	}
	if tcfg.Token != "" {
		tcfg.Logger = logger.With("adapter", "telegram")
		tb, err := telegram.New(ctx, tcfg, core, db)
		if err != nil {
			return nil, fmt.Errorf("start telegram: %w", err)
		}
		if tcfg.WebhookURL != "" {
			mux.Handle("POST /telegram/webhook", tb.WebhookHandler())
		}
		out["telegram"] = tb
	}

	scfg, err := slack.ConfigFromEnv(getenv)
	if err != nil {
		return nil, fmt.Errorf("slack configuration: %w", err)
	}
	if scfg.Enabled() {
		scfg.Logger = logger.With("adapter", "slack")
		sb, err := slack.New(scfg, core)
		if err != nil {
			return nil, fmt.Errorf("start slack: %w", err)
		}
		if !scfg.SocketMode() {
			sb.Register(mux)
		}
		out["slack"] = sb
	}
	return out, nil
}
