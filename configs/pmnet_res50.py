# PM-Net, ResNet-50, SPIN's real-data mix, 224x224: the short name of
# `pmnet_res50_1xb64-200k_spin-mix-224x224.py` (python tools/train.py configs/pmnet_res50.py).
_base_ = ['./pmnet_res50_1xb64-200k_spin-mix-224x224.py']
