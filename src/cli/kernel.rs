//! `helixfold kernel`: run as a Jupyter kernel (`--connection-file FILE`, what Jupyter starts),
//! or manage the kernelspec (`install`, `list`, `uninstall`).
use crate::kernel::kernelspec::{self, Location, DEFAULT_NAME};
use crate::kernel::ConnectionInfo;
use anyhow::{bail, Context as _, Result};
use clap::{Args, Subcommand};
use std::path::PathBuf;

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct KernelArgs {
    /// The connection file Jupyter wrote for this kernel.
    #[arg(long, short = 'f', value_name = "FILE")]
    pub connection_file: Option<PathBuf>,
    #[command(subcommand)]
    pub action: Option<KernelAction>,
}

#[derive(Debug, Subcommand)]
pub enum KernelAction {
    /// Register the HelixFold kernel with Jupyter (writes kernel.json and logos).
    Install(InstallArgs),
    /// Show the installed HelixFold kernels.
    List,
    /// Remove an installed HelixFold kernel.
    Uninstall {
        /// The kernel's name.
        #[arg(long, default_value = DEFAULT_NAME)]
        name: String,
    },
}

#[derive(Debug, Args)]
pub struct InstallArgs {
    /// Install for this user ($JUPYTER_DATA_DIR or ~/.local/share/jupyter); the default.
    #[arg(long, group = "location")]
    pub user: bool,
    /// Install into the active Python environment ($VIRTUAL_ENV or python3's sys.prefix).
    #[arg(long, group = "location")]
    pub sys_prefix: bool,
    /// Install under PREFIX/share/jupyter.
    #[arg(long, group = "location", value_name = "PREFIX")]
    pub prefix: Option<PathBuf>,
    /// The kernel's name (a folder name Jupyter accepts).
    #[arg(long, default_value = DEFAULT_NAME)]
    pub name: String,
}

pub fn run(args: &KernelArgs) -> Result<()> {
    match (&args.connection_file, &args.action) {
        (Some(file), _) => crate::kernel::run(&ConnectionInfo::read(file)?),
        (None, Some(KernelAction::Install(install))) => {
            let location = match (&install.prefix, install.sys_prefix) {
                (Some(prefix), _) => Location::Prefix(prefix.clone()),
                (None, true) => Location::SysPrefix,
                (None, false) => Location::User,
            };
            let binary = std::env::current_exe().context("finding the path of the running helixfold binary")?;
            let dir = kernelspec::install(&location, &install.name, &binary)?;
            println!("installed kernel '{}' in {}", install.name, dir.display());
            Ok(())
        }
        (None, Some(KernelAction::List)) => {
            let found = kernelspec::list();
            if found.is_empty() {
                println!("no HelixFold kernel installed (run `helixfold kernel install --user`)");
            }
            for (name, dir) in found {
                println!("{name}  {}", dir.display());
            }
            Ok(())
        }
        (None, Some(KernelAction::Uninstall { name })) => {
            for dir in kernelspec::uninstall(name)? {
                println!("removed {}", dir.display());
            }
            Ok(())
        }
        (None, None) => bail!("give --connection-file FILE (Jupyter does) or one of: install, list, uninstall"),
    }
}
