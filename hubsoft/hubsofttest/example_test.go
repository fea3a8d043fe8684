package hubsofttest_test

import (
	"encoding/json"
	"fmt"
	"log"
	"net/http"
	"net/url"

	"github.com/hsbatch/hsbatch/hubsoft/hubsofttest"
)

func Example() {
	srv := hubsofttest.NewServer()
	defer srv.Close()
	srv.SetOutcome(11000, hubsofttest.Outcome{Status: "success", Login: "hubsoft"})

	// Get a token with the password grant.
	resp, err := http.PostForm(srv.URL+"/oauth/token", url.Values{
		"grant_type":    {"password"},
		"client_id":     {srv.ClientID},
		"client_secret": {srv.ClientSecret},
		"username":      {srv.Username},
		"password":      {srv.Password},
	})
	if err != nil {
		log.Fatal(err)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
		TokenType   string `json:"token_type"`
	}
	err = json.NewDecoder(resp.Body).Decode(&tok)
	resp.Body.Close()
	if err != nil {
		log.Fatal(err)
	}

	// Disconnect service 11000.
	req, err := http.NewRequest(http.MethodGet,
		srv.URL+"/api/v1/integracao/cliente/solicitar_desconexao/11000", nil)
	if err != nil {
		log.Fatal(err)
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Authorization", tok.TokenType+" "+tok.AccessToken)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		log.Fatal(err)
	}
	var env struct {
		Status string `json:"status"`
		Msg    string `json:"msg"`
		Login  string `json:"login"`
	}
	err = json.NewDecoder(resp.Body).Decode(&env)
	resp.Body.Close()
	if err != nil {
		log.Fatal(err)
	}

	fmt.Println(resp.StatusCode, env.Status, env.Login)
	fmt.Println(env.Msg)
	fmt.Println("calls:", srv.Calls(11000), "answered:", srv.Answered(11000))
	// Output:
	// 200 success hubsoft
	// A desconexão foi bem sucedida para o login hubsoft!
	// calls: 1 answered: 1
}

func ExampleServer_InjectFaults() {
	srv := hubsofttest.NewServer()
	defer srv.Close()

	// The next two calls for id 7 fail, then calls are answered normally.
	srv.InjectFaults(7, hubsofttest.FaultHTML502, hubsofttest.Fault429)

	for range 3 {
		// Without a token HubSoft answers 401, but faults come first.
		resp, err := http.Get(srv.URL + "/api/v1/integracao/cliente/solicitar_desconexao/7")
		if err != nil {
			log.Fatal(err)
		}
		resp.Body.Close()
		fmt.Println(resp.Status)
	}
	fmt.Println("calls:", srv.Calls(7), "answered:", srv.Answered(7))
	// Output:
	// 502 Bad Gateway
	// 429 Too Many Requests
	// 401 Unauthorized
	// calls: 3 answered: 0
}
