module kk-lab/harbor-standin

go 1.22
