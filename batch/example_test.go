package batch_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/hsbatch/hsbatch/batch"
)

// echo answers every id with a success; a real Sender wraps the HubSoft
// client.
type echo struct{}

func (echo) Send(_ context.Context, id int64) (batch.Answer, error) {
	return batch.Answer{OK: true, Msg: "ok", Login: fmt.Sprint("cliente", id), HTTPStatus: 200}, nil
}

func Example() {
	dir, _ := os.MkdirTemp("", "batch-example-")
	defer os.RemoveAll(dir)
	input := filepath.Join(dir, "ids.csv")
	os.WriteFile(input, []byte("nome;id_cliente_servico\nAna;11000\nBruno;abc\nCarla;11000\n"), 0o600)

	// OpenJob pins the input, takes the job's lock and loads what an
	// earlier run finished; running the same code again resumes.
	job, err := batch.OpenJob(input, filepath.Join(dir, "ids.results.csv"), batch.JobOptions{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer job.Close()

	r := &batch.Runner{
		Sender:      echo{},
		Classify:    func(error) batch.Verdict { return batch.Verdict{Action: batch.Retry} },
		Concurrency: 2,
		Retries:     3,
	}
	sum, err := r.Run(context.Background(), job)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("success %d, invalid %d, duplicate %d\n", sum.Counts.Success, sum.Counts.Invalid, sum.Counts.Duplicate)
	// Output: success 1, invalid 1, duplicate 1
}
