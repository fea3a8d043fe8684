package main

import (
	"context"
	"errors"

	"github.com/hsbatch/hsbatch/batch"
	"github.com/hsbatch/hsbatch/hubsoft"
)

// disconnector adapts hubsoft.Client to batch.Sender: batch knows rows and
// answers, not HTTP.
type disconnector struct{ c *hubsoft.Client }

var _ batch.Sender = disconnector{}

func (d disconnector) Send(ctx context.Context, id int64) (batch.Answer, error) {
	ans, err := d.c.Disconnect(ctx, id)
	if err != nil {
		return batch.Answer{}, err
	}
	return batch.Answer{OK: ans.OK(), Msg: ans.Msg, Login: ans.Login, Errors: ans.Errors, HTTPStatus: ans.HTTPStatus}, nil
}

// classify maps hubsoft's classification onto the runner's actions.
func classify(err error) batch.Verdict {
	v := batch.Verdict{Action: batch.Fail, HTTPStatus: hubsoft.StatusCode(err)}
	switch hubsoft.Classify(err) {
	case hubsoft.Retry:
		v.Action = batch.Retry
	case hubsoft.Stop:
		v.Action = batch.Stop
	}
	v.RetryAfter, _ = hubsoft.RetryAfter(err)
	var rl *hubsoft.RateLimitError
	v.Throttled = errors.As(err, &rl)
	return v
}
