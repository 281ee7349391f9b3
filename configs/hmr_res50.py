# HMR baseline, ResNet-50, SPIN's real-data mix, 224x224: the short name of
# `hmr_res50_1xb64-200k_spin-mix-224x224.py`, the twin of configs/pmnet_res50.py.
_base_ = ['./hmr_res50_1xb64-200k_spin-mix-224x224.py']
