//! Each part of an Evoformer block draws its dropout masks from its own seed (drawn when the
//! block starts, `model::evoformer`), so the MSA branch gets the same masks whichever order the
//! block runs its parts in (AlphaFold's, or HelixFold's parallel Evoformer), and on whichever
//! rank. The masks come from libtorch's process-wide generator, so this runs in a test binary of
//! its own: no other test's draws can fall between the seeding and the masks.
use helixfold::model::config::{ModelConfig, OuterProductMeanPosition, RuntimeOptions};
use helixfold::model::evoformer::EvoformerIteration;
use tch::{nn, Device, Kind, Tensor};

fn block(position: OuterProductMeanPosition) -> EvoformerIteration {
    tch::manual_seed(6);
    let vs = nn::VarStore::new(Device::Cpu);
    let mut cfg = ModelConfig::tiny();
    cfg.global_config.zero_init = false;
    let e = &mut cfg.embeddings_and_evoformer;
    e.evoformer.outer_product_mean.position = position;
    let block = EvoformerIteration::new(vs.root() / "block", &e.evoformer, e.msa_channel, e.pair_channel, false, &cfg.global_config);
    block
}

#[test]
fn the_msa_branch_draws_the_same_masks_in_either_order() {
    let cfg = ModelConfig::tiny();
    let e = &cfg.embeddings_and_evoformer;
    let f = (Kind::Float, Device::Cpu);
    tch::manual_seed(3);
    let msa = Tensor::randn([4, 6, e.msa_channel], f);
    let pair = Tensor::randn([6, 6, e.pair_channel], f);
    let msa_mask = Tensor::rand([4, 6], f).gt(0.2).to_kind(Kind::Float);
    let pair_mask = Tensor::ones([6, 6], f);
    let training = RuntimeOptions { training: true, ..RuntimeOptions::default() };
    let run = |position, opts: &RuntimeOptions| {
        let block = block(position);
        tch::manual_seed(11);
        block.forward(&msa, &pair, &msa_mask, &pair_mask, opts).0
    };
    let origin = run(OuterProductMeanPosition::Origin, &training);
    let end = run(OuterProductMeanPosition::End, &training);
    assert!(origin.equal(&end));
    let eval = run(OuterProductMeanPosition::End, &RuntimeOptions::default());
    assert!(!eval.equal(&end), "dropout should be active in training");
}
