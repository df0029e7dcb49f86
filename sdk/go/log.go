package autopilot

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
)

func defaultLogger() *slog.Logger { return slog.Default().With("logger", "autopilot") }

// problems logs a problem once, not once per event: the first report is a warning, repeats are debug
// until the problem clears, and the recovery is logged once at info.
type problems struct {
	logger *slog.Logger
	mu     sync.Mutex
	active map[string]bool
}

func newProblems(logger *slog.Logger) *problems {
	return &problems{logger: logger, active: map[string]bool{}}
}

func (p *problems) report(key, format string, args ...any) {
	p.mu.Lock()
	first := !p.active[key]
	p.active[key] = true
	p.mu.Unlock()
	level := slog.LevelDebug
	if first {
		level = slog.LevelWarn
	}
	if p.logger.Enabled(context.Background(), level) {
		p.logger.Log(context.Background(), level, fmt.Sprintf(format, args...))
	}
}

func (p *problems) clear(key, message string) {
	p.mu.Lock()
	was := p.active[key]
	delete(p.active, key)
	p.mu.Unlock()
	if was && message != "" {
		p.logger.Info(message)
	}
}
