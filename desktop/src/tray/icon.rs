//! The tray icon's pixels, decoded once from the PNG built into the binary.

use std::sync::LazyLock;

/// Straight (not premultiplied) RGBA pixels, row by row.
pub struct Pixels {
    pub width: u32,
    pub height: u32,
    pub rgba: Vec<u8>,
}

/// The tray icon; a blank square should the built-in PNG not decode (a build mistake that the
/// unit test below catches).
pub static ICON: LazyLock<Pixels> = LazyLock::new(|| {
    decode(include_bytes!("../../tray.png")).unwrap_or_else(|error| {
        tracing::error!(%error, "the tray icon did not decode");
        Pixels {
            width: 1,
            height: 1,
            rgba: vec![0, 0, 0, 0],
        }
    })
});

fn decode(png: &[u8]) -> Result<Pixels, png::DecodingError> {
    let mut decoder = png::Decoder::new(std::io::Cursor::new(png));
    decoder.set_transformations(png::Transformations::EXPAND | png::Transformations::ALPHA);
    let mut reader = decoder.read_info()?;
    let mut rgba = vec![0; reader.output_buffer_size().unwrap_or(0)];
    let info = reader.next_frame(&mut rgba)?;
    rgba.truncate(info.buffer_size());
    Ok(Pixels {
        width: info.width,
        height: info.height,
        rgba,
    })
}

impl Pixels {
    /// The pixel nearest to (x, y) of a `size`-square rendering, as [r, g, b, a].
    pub fn sample(&self, x: u32, y: u32, size: u32) -> [u8; 4] {
        let sx = (x * self.width / size.max(1)).min(self.width - 1);
        let sy = (y * self.height / size.max(1)).min(self.height - 1);
        let at = ((sy * self.width + sx) * 4) as usize;
        let p = &self.rgba[at..at + 4];
        [p[0], p[1], p[2], p[3]]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_built_in_icon_decodes_to_rgba() {
        let icon = decode(include_bytes!("../../tray.png")).expect("tray.png decodes");
        assert_eq!((icon.width, icon.height), (64, 64));
        assert_eq!(icon.rgba.len(), 64 * 64 * 4);
        assert!(
            icon.rgba.chunks(4).any(|p| p[3] == 255),
            "some opaque pixels"
        );
    }
}
