"""The shipped configs parse, keep MMPose's torchvision-only parts out; HMR/PM-Net differ only in the head."""
import os.path as osp

import pytest
from mmengine.config import Config

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
PAIRS = [('configs/hmr_res50_1xb64-200k_spin-mix-224x224.py', 'configs/pmnet_res50_1xb64-200k_spin-mix-224x224.py'),
         ('configs/hmr_res50_1xb64-200k_spin-mix-224x224-h36m-p2.py',
          'configs/pmnet_res50_1xb64-200k_spin-mix-224x224-h36m-p2.py'),
         ('configs/hmr_res18-w32_1xb16-300it_synthetic-96x96.py',
          'configs/pmnet_res18-w32_1xb16-300it_synthetic-96x96.py'),
         ('configs/hmr_effnet-lite0_1xb32-400it_synthetic-96x96.py',
          'configs/pmnet_effnet-lite0_1xb32-400it_synthetic-96x96.py')]
# HMR and HMR + Balanced MSE: the same model and training but for the head's loss
BMC_PAIRS = [('configs/hmr_res50_1xb64-200k_spin-mix-224x224.py',
              'configs/hmr-bmc_res50_1xb64-200k_spin-mix-224x224.py'),
             ('configs/hmr_effnet-lite0_1xb32-400it_synthetic-96x96.py',
              'configs/hmr-bmc_effnet-lite0_1xb32-400it_synthetic-96x96.py')]
LEAVES = [c for pair in PAIRS for c in pair] + [bmc for _, bmc in BMC_PAIRS]


def load(rel: str) -> Config:
    return Config.fromfile(osp.join(ROOT, rel))


def feature_width(cfg: Config) -> int:
    """Width of the feature the head receives: backbone (random init) + neck on one crop."""
    import torch
    from mmengine.registry import init_default_scope
    from mmpose.registry import MODELS

    import pmnet_plugin  # noqa: F401
    init_default_scope('mmpose')
    backbone = MODELS.build(dict(cfg.model.backbone, init_cfg=None))
    neck = MODELS.build(cfg.model.neck) if cfg.model.get('neck') else None
    for module in (backbone, neck):
        if module is not None:
            module.eval()  # (MMPose's ResNet.train returns None: no chaining)
    with torch.no_grad():
        feats = backbone(torch.zeros(1, 3, *tuple(cfg.codec.input_size)[::-1]))
        feats = neck(feats) if neck is not None else feats
    last = feats[-1]
    return int(last.shape[1])


@pytest.mark.parametrize('rel', LEAVES)
def test_config_contract(rel):
    cfg = load(rel)
    assert cfg.custom_imports == dict(imports=['pmnet_plugin'], allow_failed_imports=False)
    assert cfg.default_scope == 'mmpose'
    assert cfg.model.type == 'TopdownMeshEstimator'
    # MMPose's PoseLocalVisualizer imports torchvision, TensorboardVisBackend needs tensorboard
    assert cfg.visualizer.type == 'MeshVisualizer'
    assert [b.type for b in cfg.visualizer.vis_backends] == ['LocalVisBackend']
    assert any(h.type == 'NaNGuardHook' for h in cfg.custom_hooks)
    assert feature_width(cfg) == cfg.model.head.in_channels
    assert tuple(cfg.model.head.input_size) == tuple(cfg.codec.input_size)
    for pipeline in (cfg.train_dataloader.dataset.pipeline, cfg.test_dataloader.dataset.pipeline):
        affine = [t for t in pipeline if t.type == 'TopdownAffine']
        assert [tuple(t.input_size) for t in affine] == [tuple(cfg.codec.input_size)]
    assert {e.type for e in cfg.val_evaluator} == {'MeshMetric', 'PoseRarity'}


@pytest.mark.parametrize('hmr,pmnet', PAIRS)
def test_hmr_and_pmnet_differ_only_in_head(hmr, pmnet):
    a, b = load(hmr).to_dict(), load(pmnet).to_dict()
    head_a, head_b = a['model'].pop('head'), b['model'].pop('head')
    assert (head_a['type'], head_b['type']) == ('HMRHead', 'PrototypeMemoryHead')
    assert a == b
    shared = {k: v for k, v in head_a.items() if k != 'type'}
    assert {k: head_b[k] for k in shared} == shared  # PM-Net only adds arguments


@pytest.mark.parametrize('hmr,bmc', BMC_PAIRS)
def test_hmr_and_hmr_bmc_differ_only_in_the_3d_joint_loss(hmr, bmc):
    a, b = load(hmr).to_dict(), load(bmc).to_dict()
    loss_a, loss_b = a['model']['head'].pop('loss'), b['model']['head'].pop('loss')
    assert a == b
    term = loss_b.pop('keypoints_3d_loss')
    assert term['type'] == 'BalancedMSELoss' and term['init_noise_sigma'] > 0
    assert loss_a == loss_b  # the other terms and weights are HMR's


def test_spin_mix_base():
    cfg = load('configs/pmnet_res50_1xb64-200k_spin-mix-224x224.py')
    mix = cfg.train_dataloader.dataset
    assert mix.type == 'MixedSMPLDataset'
    assert mix.ratios == [.35, .15, .1, .1, .1, .2]
    anns = [d.ann_file for d in mix.datasets]
    # MMHuman3D's SPIN file names (docs/preprocess_dataset.md, configs/spin/resnet50_spin_pw3d.py)
    assert anns == ['preprocessed_datasets/h36m_mosh_train.npz',
                    'preprocessed_datasets/spin_mpi_inf_3dhp_train.npz',
                    'preprocessed_datasets/spin_lsp_train.npz',
                    'preprocessed_datasets/spin_lspet_train.npz',
                    'preprocessed_datasets/spin_mpii_train.npz',
                    'preprocessed_datasets/spin_coco_2014_train.npz']
    # one joint set for the whole mix (and the test set), H36M read with SPIN's joint definitions
    assert {d.joint_set for d in mix.datasets} == {'human_data'} == {cfg.val_dataloader.dataset.joint_set}
    assert mix.datasets[0].rename_keypoints == dict(head_extra='jaw_extra', headtop='head_extra')
    assert {'joint_set', 'gender'} <= set(cfg.meta_keys)
    assert cfg.model.head.body_model.joint_regressor_extra == 'data/body_models/J_regressor_extra.npy'
    assert cfg.val_dataloader.dataset.ann_file.endswith('spin_pw3d_test.npz')
    for metric in cfg.val_evaluator:  # 3DPW protocol: LSP-14 through the H36M regressor, gendered GT
        assert metric.protocol == 'h36m_lsp14'
        assert metric.gendered_body_models == dict(male='data/body_models/smpl/SMPL_MALE.pkl',
                                                   female='data/body_models/smpl/SMPL_FEMALE.pkl')
    assert cfg.optim_wrapper.optimizer == dict(type='Adam', lr=5e-5, weight_decay=0.)
    assert cfg.train_dataloader.batch_size == 64
    assert tuple(cfg.codec.input_size) == (224, 224)
    assert cfg.model.backbone.init_cfg == dict(type='Pretrained', checkpoint='torchvision://resnet50')


def test_synthetic_base():
    cfg = load('configs/pmnet_res18-w32_1xb16-300it_synthetic-96x96.py')
    # CPU budget: half-width ResNet-18 from scratch at 96 px (see the config's comments)
    assert cfg.model.backbone == dict(type='ResNet', depth=18, base_channels=32, init_cfg=None)
    assert tuple(cfg.codec.input_size) == (96, 96)
    assert cfg.train_dataloader.dataset.type == 'SMPLImageDataset'
    assert cfg.train_dataloader.dataset.data_root == 'data/synthetic'
    assert cfg.test_dataloader.dataset.ann_file == 'test.npz'
    assert cfg.model.head.prototype_file == 'data/prototypes/prototypes_k32.npz'
    assert cfg.train_cfg.max_iters <= 1000


def test_h36m_p2_protocol_config():
    cfg = load('configs/pmnet_res50_1xb64-200k_spin-mix-224x224-h36m-p2.py')
    ds = cfg.test_dataloader.dataset
    assert ds.ann_file == 'preprocessed_datasets/h36m_valid_protocol2.npz' and ds.test_mode
    assert ds.rename_keypoints == dict(head_extra='jaw_extra', headtop='head_extra')
    assert [m.protocol for m in cfg.test_evaluator] == ['h36m_joints_lsp14']
    # same model and training
    assert cfg.train_dataloader == load('configs/pmnet_res50_1xb64-200k_spin-mix-224x224.py').train_dataloader
