//! Side-chain torsion prediction and all-atom placement of the structure module: the angle
//! ResNet of Jumper et al. (2021) Suppl. Alg. 20 lines 11–14 followed by Alg. 24
//! (`computeAllAtomCoordinates`).
//!
//! Parameter names are those of DeepMind's `MultiRigidSidechain` (`alphafold/model/folding.py`,
//! haiku name `rigid_sidechain`); haiku numbers repeated module names, so the second input
//! projection is `input_projection_1` and the second residual block `resblock1_1`,
//! `resblock2_1`. `*` are batch dimensions, `N` residues.
use super::config::{GlobalConfig, SidechainConfig};
use super::primitives::{Init, Linear};
use crate::geometry::all_atom::{frames_and_literature_positions_to_atom14_pos, torsion_angles_to_frames};
use crate::geometry::Rigid;
use tch::{nn, Tensor};

/// Torsions predicted per residue: pre-omega, phi, psi, chi1..chi4.
pub const NUM_TORSIONS: i64 = 7;
/// Floor of the squared norm in the sin/cos normalisation (AlphaFold's `l2_normalize`).
const NORMALIZE_EPSILON: f64 = 1e-12;

/// Haiku's name for the `index`-th (0-based) module called `name` within one parent.
pub(crate) fn repeated_module_name(name: &str, index: usize) -> String {
    if index == 0 {
        name.to_string()
    } else {
        format!("{name}_{index}")
    }
}

/// What the side-chain module predicts for one structure-module layer.
#[derive(Debug)]
pub struct SidechainOutput {
    /// `[*, N, 7, 2]` unit (sin, cos) of each torsion.
    pub angles_sin_cos: Tensor,
    /// `[*, N, 7, 2]` the same before normalisation (for the angle-norm loss).
    pub unnormalized_angles_sin_cos: Tensor,
    /// Rigid-group frames in the global frame, batch `[*, N, 8]`, Å.
    pub frames: Rigid,
    /// `[*, N, 14, 3]` atom positions, Å (zero in empty slots).
    pub atom14_positions: Tensor,
}

/// The angle ResNet and all-atom construction.
#[derive(Debug)]
pub struct RigidSidechain {
    /// Projections of the current and of the initial single representation.
    input_projections: [Linear; 2],
    /// `(resblock1, resblock2)` per residual block.
    resblocks: Vec<(Linear, Linear)>,
    unnormalized_angles: Linear,
}

impl RigidSidechain {
    /// `c_act`: channels of the current single representation, `c_initial`: of the initial one.
    pub fn new(p: nn::Path, cfg: &SidechainConfig, c_act: i64, c_initial: i64, global: &GlobalConfig) -> Self {
        let c = cfg.num_channel;
        let resblocks = (0..cfg.num_residual_block as usize)
            .map(|i| {
                (
                    Linear::new(&p / repeated_module_name("resblock1", i), c, c, Init::Relu),
                    Linear::new(&p / repeated_module_name("resblock2", i), c, c, Init::final_init(global)),
                )
            })
            .collect();
        RigidSidechain {
            input_projections: [
                Linear::new(&p / "input_projection", c_act, c, Init::Default),
                Linear::new(&p / "input_projection_1", c_initial, c, Init::Default),
            ],
            resblocks,
            unnormalized_angles: Linear::new(&p / "unnormalized_angles", c, NUM_TORSIONS * 2, Init::Default),
        }
    }

    /// Torsions, frames and atoms from `backbone_frames [*, N]` (Å), the current and initial
    /// single representations `act [*, N, c_act]`, `initial_act [*, N, c_initial]`, and
    /// `aatype [*, N]`.
    pub fn forward(
        &self,
        backbone_frames: &Rigid,
        act: &Tensor,
        initial_act: &Tensor,
        aatype: &Tensor,
    ) -> SidechainOutput {
        let mut hidden =
            self.input_projections[0].forward(&act.relu()) + self.input_projections[1].forward(&initial_act.relu()); // [*, N, c]
        for (first, second) in &self.resblocks {
            let update = second.forward(&first.forward(&hidden.relu()).relu()); // [*, N, c]
            hidden += update;
        }
        let mut angle_shape = act.size();
        angle_shape.pop();
        angle_shape.extend([NUM_TORSIONS, 2]);
        let unnormalized = self.unnormalized_angles.forward(&hidden.relu()).reshape(angle_shape); // [*, N, 7, 2]
        let norm = unnormalized.square().sum_dim_intlist(-1, true, None).clamp_min(NORMALIZE_EPSILON).sqrt(); // [*, N, 7, 1]
        let angles = &unnormalized / norm; // [*, N, 7, 2]
        let frames = torsion_angles_to_frames(aatype, backbone_frames, &angles); // [*, N, 8]
        let atom14_positions = frames_and_literature_positions_to_atom14_pos(aatype, &frames); // [*, N, 14, 3]
        SidechainOutput { angles_sin_cos: angles, unnormalized_angles_sin_cos: unnormalized, frames, atom14_positions }
    }
}
