package localcluster

import "testing"

func TestExpand(t *testing.T) {
	vars := map[string]string{"POD_IP": "127.9.0.2", "EMPTY": "", "NAME": "web-0", "DOLLAR": "$"}
	lookup := func(n string) (string, bool) { v, ok := vars[n]; return v, ok }
	tests := []struct {
		in, want string
	}{
		{"--listen=$(POD_IP):8080", "--listen=127.9.0.2:8080"},
		{"$(POD_IP)$(NAME)", "127.9.0.2web-0"},
		{"$(UNDEFINED)", "$(UNDEFINED)"},
		{"$(EMPTY)x", "x"},
		{"$$(POD_IP)", "$(POD_IP)"},
		{"$$$(POD_IP)", "$127.9.0.2"},
		{"$$$$", "$$"},
		{"cost $5", "cost $5"},
		{"trailing $", "trailing $"},
		{"$(POD_IP", "$(POD_IP"},
		{"$(", "$("},
		{"$()", "$()"},
		{"$(DOLLAR)(NAME)", "$(NAME)"}, // values are not expanded again
		{"no refs", "no refs"},
		{"", ""},
		{"$(NAME)-$(POD_IP", "web-0-$(POD_IP"},
		{"$(PO$(NAME))", "$(PO$(NAME))"},
	}
	for _, tt := range tests {
		if got := expand(tt.in, lookup); got != tt.want {
			t.Errorf("expand(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestExpandAll(t *testing.T) {
	if got := expandAll(nil, nil); got != nil {
		t.Errorf("expandAll(nil) = %v, want nil", got)
	}
	got := expandAll([]string{"a=$(A)", "$$(A)"}, map[string]string{"A": "1"})
	if got[0] != "a=1" || got[1] != "$(A)" {
		t.Errorf("expandAll = %q", got)
	}
}
