package consumers

import "context"

// runDue polls, one after the other, every company due at the clock's now:
// tests and simulations step a clock through a schedule with it instead of Run.
func (p *Poller) runDue(ctx context.Context) int {
	if len(p.sched.byID) == 0 {
		p.syncCompanies(ctx, p.cfg.Now())
	}
	n := 0
	for {
		e, _ := p.sched.pop(p.cfg.Now(), p.cfg)
		if e == nil {
			return n
		}
		p.pollEntry(ctx, e)
		n++
	}
}
