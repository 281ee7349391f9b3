# Test-only config: the HMR of hmr_res50_1xb64-200k_spin-mix-224x224.py evaluated with
# Human3.6M protocol 2 (PA-MPJPE and MPJPE on 14 LSP joints, GT = the labelled H36M joints,
# prediction through the H36M regressor; SPIN's eval.py).
# Published numbers to compare with: docs/configs.md.
_base_ = ['./hmr_res50_1xb64-200k_spin-mix-224x224.py']

test_dataloader = {{_base_.h36m_p2_test_dataloader}}
test_evaluator = {{_base_.h36m_p2_test_evaluator}}
