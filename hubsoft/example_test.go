package hubsoft_test

import (
	"context"
	"fmt"
	"log"

	"github.com/hsbatch/hsbatch/hubsoft"
	"github.com/hsbatch/hsbatch/hubsoft/hubsofttest"
)

func Example() {
	srv := hubsofttest.NewServer()
	defer srv.Close()
	srv.SetOutcome(11000, hubsofttest.Outcome{Status: "success", Login: "hubsoft"})
	srv.SetOutcome(11001, hubsofttest.Outcome{Status: "error", Login: "maria", Errors: []string{"Concentrador sem comunicação"}})

	c, err := hubsoft.NewClient(srv.URL, hubsoft.WithCredentials(hubsoft.Credentials{
		ClientID:     srv.ClientID,
		ClientSecret: srv.ClientSecret,
		Username:     srv.Username,
		Password:     srv.Password,
	}))
	if err != nil {
		log.Fatal(err)
	}
	for _, id := range []int64{11000, 11001} {
		d, err := c.Disconnect(context.Background(), id)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(id, d.Status, d.Login, d.Errors)
	}
	// Output:
	// 11000 success hubsoft []
	// 11001 error maria [Concentrador sem comunicação]
}

func ExampleClassify() {
	srv := hubsofttest.NewServer()
	defer srv.Close()
	srv.InjectFaults(7, hubsofttest.FaultHTML502) // the first call meets a proxy error

	c, err := hubsoft.NewClient(srv.URL, hubsoft.WithCredentials(hubsoft.Credentials{
		ClientID:     srv.ClientID,
		ClientSecret: srv.ClientSecret,
		Username:     srv.Username,
		Password:     srv.Password,
	}))
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	for range 2 {
		d, err := c.Disconnect(ctx, 7)
		if err != nil {
			switch hubsoft.Classify(err) {
			case hubsoft.Retry:
				fmt.Println("retry later: HTTP", hubsoft.StatusCode(err))
			case hubsoft.Fail:
				fmt.Println("give up on this id:", err)
			case hubsoft.Stop:
				log.Fatal(err) // credentials, permissions, cancellation
			}
			continue
		}
		fmt.Println(d.Status, d.Login)
	}
	// Output:
	// retry later: HTTP 502
	// success cliente7
}
