//! The floor of the matrix benchmark: inflate a `.tar.gz` with flate2 + zlib-rs (the inflater
//! `cratemill matrix` uses) and throw the bytes away. `matrix_inflate <FILE.gz>`.

use std::io::Read;

fn main() -> std::io::Result<()> {
    let path = std::env::args().nth(1).expect("usage: matrix_inflate <FILE.gz>");
    let file = std::io::BufReader::with_capacity(256 * 1024, std::fs::File::open(path)?);
    let mut decoder = flate2::read::MultiGzDecoder::new(file);
    let mut buf = vec![0u8; 1 << 20];
    let mut total = 0u64;
    loop {
        let n = decoder.read(&mut buf)?;
        if n == 0 {
            break;
        }
        total += n as u64;
    }
    eprintln!("inflated {total} bytes");
    Ok(())
}
