//! Mounts eddy-crashfs on the directory given and serves it until stdin says otherwise: a line
//! `cut` (or `torn SEED`) performs a power cut, `stats` prints the counters, `quit` unmounts.
//! For trying a program by hand: `cargo run -p eddy-crashfs --example mount -- /tmp/m`.

use std::io::BufRead;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::args().nth(1).ok_or("usage: mount DIR")?;
    let fs = eddy_crashfs::CrashFs::mount(std::path::Path::new(&dir))?;
    println!("mounted on {dir}; commands: cut | torn SEED | stats | quit");
    for line in std::io::stdin().lock().lines() {
        let line = line?;
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["cut"] => println!("{:?}", fs.power_cut(eddy_crashfs::Cut::Clean)),
            ["torn", seed] => {
                println!("{:?}", fs.power_cut(eddy_crashfs::Cut::Torn { seed: seed.parse()? }))
            }
            ["stats"] => println!("{:?}", fs.stats()),
            ["quit"] => break,
            _ => println!("?"),
        }
    }
    Ok(())
}
