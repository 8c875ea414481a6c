package origin_test

import (
	"fmt"
	"net/http/httptest"

	"github.com/cacheops/purge-operator/test/origin"
)

// The origin renders a new version each time a URL is requested without a
// matching validator, and says which in X-Origin-Version.
func ExampleNew() {
	o := origin.New(origin.Options{})
	for range 2 {
		rec := httptest.NewRecorder()
		o.ServeHTTP(rec, httptest.NewRequest("GET", "/products/42", nil))
		fmt.Println(rec.Code, rec.Header().Get("X-Origin-Version"), rec.Header().Get("Surrogate-Key"))
	}
	fmt.Println(o.Stats().Requests["/products/42"])
	// Output:
	// 200 1 product-42 products html
	// 200 2 product-42 products html
	// 2
}
