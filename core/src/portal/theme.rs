//! A platform's look for its portal sessions: the name shown in the page's
//! header, an accent colour and light or dark mode. The accent is checked
//! against the page's own backgrounds with WCAG 2 contrast here, at minting,
//! so the page only applies colours that are known to be readable.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The longest theme name, in characters.
pub const MAX_NAME_CHARS: usize = 60;
/// WCAG AA for normal text.
pub const AA_CONTRAST: f64 = 4.5;

/// An sRGB colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rgb(pub u8, pub u8, pub u8);

impl Rgb {
    pub const BLACK: Rgb = Rgb(0, 0, 0);
    pub const WHITE: Rgb = Rgb(255, 255, 255);

    /// `#rrggbb` (either case) → the colour; anything else (`#rgb`, names,
    /// `rgb()`) is `None`.
    pub fn parse(s: &str) -> Option<Rgb> {
        let hex = s.strip_prefix('#')?;
        if hex.len() != 6 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        let byte = |i: usize| u8::from_str_radix(&hex[i..i + 2], 16).ok();
        Some(Rgb(byte(0)?, byte(2)?, byte(4)?))
    }

    /// `#rrggbb`, lowercase.
    pub fn hex(self) -> String {
        format!("#{:02x}{:02x}{:02x}", self.0, self.1, self.2)
    }

    /// WCAG 2 relative luminance, 0 (black) to 1 (white).
    pub fn luminance(self) -> f64 {
        let channel = |c: u8| {
            let c = f64::from(c) / 255.0;
            if c <= 0.040_45 {
                c / 12.92
            } else {
                ((c + 0.055) / 1.055).powf(2.4)
            }
        };
        0.2126 * channel(self.0) + 0.7152 * channel(self.1) + 0.0722 * channel(self.2)
    }
}

/// WCAG 2 contrast ratio of two colours, 1 to 21, whichever is lighter.
pub fn contrast(a: Rgb, b: Rgb) -> f64 {
    let (la, lb) = (a.luminance(), b.luminance());
    (la.max(lb) + 0.05) / (la.min(lb) + 0.05)
}

/// Light, dark, or whatever the reader's system prefers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    #[default]
    Auto,
    Light,
    Dark,
}

/// One of the portal's two schemes, with the colours its stylesheet uses
/// (`portal/src/styles.css`; a test holds the two to the same values).
#[derive(Debug, Clone, Copy)]
pub struct Scheme {
    /// Backgrounds that links are drawn on (the page and its panels).
    pub backgrounds: [Rgb; 2],
    /// The portal's own accent, used when a platform's accent is unreadable.
    pub accent: Rgb,
    pub on_accent: Rgb,
}

pub const LIGHT: Scheme = Scheme {
    backgrounds: [Rgb(0xff, 0xff, 0xff), Rgb(0xf5, 0xf6, 0xf8)],
    accent: Rgb(0x1f, 0x5f, 0xd1),
    on_accent: Rgb(0xff, 0xff, 0xff),
};

pub const DARK: Scheme = Scheme {
    backgrounds: [Rgb(0x15, 0x18, 0x1d), Rgb(0x1f, 0x24, 0x2b)],
    accent: Rgb(0x6e, 0xa1, 0xff),
    on_accent: Rgb(0x0b, 0x12, 0x20),
};

/// The colours the page uses in one scheme, as `#rrggbb`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Palette {
    /// Primary buttons' background.
    pub accent: String,
    /// Text on primary buttons.
    pub on_accent: String,
    /// Links.
    pub link: String,
}

/// The accent's colours in `scheme`. A primary button takes the accent with
/// black or white text, whichever contrasts more (one of them always reaches
/// 4.58:1, above AA). Links are text on the page's backgrounds: they take the
/// accent when it reaches AA on every one of them, else the portal's own.
pub fn palette(accent: Rgb, scheme: &Scheme) -> Palette {
    let on_accent = if contrast(Rgb::WHITE, accent) >= contrast(Rgb::BLACK, accent) {
        Rgb::WHITE
    } else {
        Rgb::BLACK
    };
    let readable = scheme
        .backgrounds
        .iter()
        .all(|bg| contrast(accent, *bg) >= AA_CONTRAST);
    Palette {
        accent: accent.hex(),
        on_accent: on_accent.hex(),
        link: if readable { accent } else { scheme.accent }.hex(),
    }
}

/// What a session's token carries for the page: its name, its mode, and the
/// accent's colours for each scheme (absent: the portal's own).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ThemeClaims {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub mode: Mode,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub light: Option<Palette>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dark: Option<Palette>,
}

/// Reads a session request's `theme` object; each problem is `(field, message,
/// kind)` under `theme`.
pub fn parse_theme(v: &Value) -> Result<ThemeClaims, Vec<(&'static str, String, &'static str)>> {
    let Some(obj) = v.as_object() else {
        return Err(vec![(
            "",
            "Input should be an object with name, accent_color and mode".into(),
            "model_type",
        )]);
    };
    let mut errors = vec![];
    let name = match obj.get("name") {
        None | Some(Value::Null) => None,
        Some(Value::String(s))
            if !s.trim().is_empty()
                && s.chars().count() <= MAX_NAME_CHARS
                && !s.chars().any(char::is_control) =>
        {
            Some(s.trim().to_string())
        }
        Some(_) => {
            errors.push((
                "name",
                format!("Input should be a text of 1 to {MAX_NAME_CHARS} characters"),
                "string_type",
            ));
            None
        }
    };
    let accent = match obj.get("accent_color") {
        None | Some(Value::Null) => None,
        Some(v) => {
            let parsed = v.as_str().and_then(Rgb::parse);
            if parsed.is_none() {
                errors.push((
                    "accent_color",
                    "Input should be a colour written #rrggbb".into(),
                    "string_pattern_mismatch",
                ));
            }
            parsed
        }
    };
    let mode = match obj.get("mode") {
        None | Some(Value::Null) => Mode::Auto,
        Some(v) => serde_json::from_value(v.clone()).unwrap_or_else(|_| {
            errors.push((
                "mode",
                "Input should be 'auto', 'light' or 'dark'".into(),
                "enum",
            ));
            Mode::Auto
        }),
    };
    if !errors.is_empty() {
        return Err(errors);
    }
    let wants = |m: Mode| mode == Mode::Auto || mode == m;
    Ok(ThemeClaims {
        name,
        mode,
        light: accent
            .filter(|_| wants(Mode::Light))
            .map(|a| palette(a, &LIGHT)),
        dark: accent
            .filter(|_| wants(Mode::Dark))
            .map(|a| palette(a, &DARK)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn colours_are_read_only_as_rrggbb() {
        assert_eq!(Rgb::parse("#1F5fd1"), Some(Rgb(0x1f, 0x5f, 0xd1)));
        assert_eq!(Rgb(0x1f, 0x5f, 0xd1).hex(), "#1f5fd1");
        for bad in [
            "1f5fd1", "#1f5fd", "#1f5fd12", "#fff", "red", "#gg0000", "#+f0000", "",
        ] {
            assert_eq!(Rgb::parse(bad), None, "{bad}");
        }
        // Multi-byte text of the right length is not a colour either.
        assert_eq!(Rgb::parse("#ééé"), None);
    }

    #[test]
    fn contrast_follows_wcag() {
        assert!((contrast(Rgb::BLACK, Rgb::WHITE) - 21.0).abs() < 1e-9);
        assert!((contrast(Rgb::WHITE, Rgb::BLACK) - 21.0).abs() < 1e-9);
        assert!((contrast(Rgb(0x77, 0x77, 0x77), Rgb::WHITE) - 4.48).abs() < 0.01);
        assert!((contrast(Rgb(0x76, 0x76, 0x76), Rgb::WHITE) - 4.54).abs() < 0.01);
        // Each channel counts with its own weight.
        assert!((Rgb(255, 0, 0).luminance() - 0.2126).abs() < 1e-9);
        assert!((Rgb(0, 255, 0).luminance() - 0.7152).abs() < 1e-9);
        assert!((Rgb(0, 0, 255).luminance() - 0.0722).abs() < 1e-9);
        // The linear segment of the sRGB curve, and the curve above it.
        assert!((Rgb(10, 10, 10).luminance() - 10.0 / 255.0 / 12.92).abs() < 1e-9);
        assert!((Rgb(11, 11, 11).luminance() - 0.003_346).abs() < 1e-6);
        assert!((Rgb(128, 128, 128).luminance() - 0.215_861).abs() < 1e-6);
    }

    #[test]
    fn the_portals_own_colours_meet_aa() {
        for scheme in [LIGHT, DARK] {
            assert!(contrast(scheme.accent, scheme.on_accent) >= AA_CONTRAST);
            for bg in scheme.backgrounds {
                assert!(contrast(scheme.accent, bg) >= AA_CONTRAST, "{bg:?}");
            }
        }
    }

    #[test]
    fn the_stylesheet_uses_the_same_colours() {
        let css = include_str!("../../../portal/src/styles.css");
        let (light, dark) = css
            .split_once("[data-mode=\"dark\"]")
            .expect("styles.css has a dark block");
        for (scheme, block) in [(LIGHT, light), (DARK, dark)] {
            for (var, colour) in [
                ("--bg", scheme.backgrounds[0]),
                ("--surface", scheme.backgrounds[1]),
                ("--accent", scheme.accent),
                ("--accent-text", scheme.on_accent),
            ] {
                assert!(
                    block.contains(&format!("{var}: {};", colour.hex())),
                    "{var} {}",
                    colour.hex()
                );
            }
        }
    }

    #[test]
    fn a_button_takes_the_text_colour_that_reads_best() {
        // Dark accents get white text, light ones black.
        let navy = palette(Rgb(0x10, 0x20, 0x60), &LIGHT);
        assert_eq!(
            (navy.accent.as_str(), navy.on_accent.as_str()),
            ("#102060", "#ffffff")
        );
        assert_eq!(palette(Rgb(0xff, 0xd7, 0x00), &LIGHT).on_accent, "#000000");
        // Every accent gets a text colour that meets AA.
        for grey in 0..=255u8 {
            for accent in [
                Rgb(grey, grey, grey),
                Rgb(grey, 0, 0),
                Rgb(0, grey, 0),
                Rgb(0, 0, grey),
            ] {
                let p = palette(accent, &LIGHT);
                let on = Rgb::parse(&p.on_accent).unwrap();
                assert!(contrast(accent, on) >= AA_CONTRAST, "{accent:?}");
            }
        }
        // Around the mid grey where black and white are closest, the one that
        // contrasts more wins: white on #757575 (4.61 to 4.56), black on #767676
        // (4.62 to 4.54).
        assert_eq!(palette(Rgb(0x75, 0x75, 0x75), &LIGHT).on_accent, "#ffffff");
        assert_eq!(palette(Rgb(0x76, 0x76, 0x76), &LIGHT).on_accent, "#000000");
    }

    #[test]
    fn links_keep_the_accent_only_where_it_reads() {
        // Navy reads on the light backgrounds, not on the dark ones.
        let navy = Rgb(0x10, 0x20, 0x60);
        assert_eq!(palette(navy, &LIGHT).link, "#102060");
        assert_eq!(palette(navy, &DARK).link, DARK.accent.hex());
        // Yellow reads on dark, not on light.
        let yellow = Rgb(0xff, 0xd7, 0x00);
        assert_eq!(palette(yellow, &LIGHT).link, LIGHT.accent.hex());
        assert_eq!(palette(yellow, &DARK).link, "#ffd700");
        // #767676 reaches 4.54:1 on white but only 4.20:1 on the light panels.
        let grey = Rgb(0x76, 0x76, 0x76);
        assert!(contrast(grey, LIGHT.backgrounds[0]) >= AA_CONTRAST);
        assert!(contrast(grey, LIGHT.backgrounds[1]) < AA_CONTRAST);
        assert_eq!(palette(grey, &LIGHT).link, LIGHT.accent.hex());
        let darker = Rgb(0x6b, 0x6b, 0x6b);
        assert_eq!(palette(darker, &LIGHT).link, "#6b6b6b");
    }

    #[test]
    fn a_theme_is_read_with_each_problem_named() {
        let t = parse_theme(&json!({"name": " Acme ", "accent_color": "#FFD700", "mode": "dark"}))
            .unwrap();
        assert_eq!(t.name.as_deref(), Some("Acme"));
        assert_eq!(t.mode, Mode::Dark);
        assert_eq!(t.light, None);
        assert_eq!(t.dark.as_ref().map(|p| p.accent.as_str()), Some("#ffd700"));
        let light = parse_theme(&json!({"accent_color": "#102060", "mode": "light"})).unwrap();
        assert!(light.light.is_some() && light.dark.is_none());
        let auto = parse_theme(&json!({"accent_color": "#102060"})).unwrap();
        assert_eq!(auto.mode, Mode::Auto);
        assert!(auto.light.is_some() && auto.dark.is_some());
        let plain = parse_theme(&json!({})).unwrap();
        assert_eq!(
            plain,
            ThemeClaims {
                name: None,
                mode: Mode::Auto,
                light: None,
                dark: None
            }
        );
        assert_eq!(
            parse_theme(&json!({"name": "é".repeat(60)}))
                .unwrap()
                .name
                .map(|n| n.chars().count()),
            Some(60)
        );

        let fields = |v: Value| -> Vec<&'static str> {
            parse_theme(&v)
                .unwrap_err()
                .into_iter()
                .map(|(f, _, _)| f)
                .collect()
        };
        assert_eq!(
            fields(json!({"name": "x".repeat(61), "accent_color": "blue", "mode": "sepia"})),
            vec!["name", "accent_color", "mode"]
        );
        for bad in [json!(""), json!("  "), json!("a\u{7}b"), json!(7)] {
            assert_eq!(fields(json!({ "name": bad })), vec!["name"]);
        }
        assert_eq!(
            fields(json!({"accent_color": 0x102060})),
            vec!["accent_color"]
        );
        assert_eq!(fields(json!({"mode": "Dark"})), vec!["mode"]);
        assert_eq!(fields(json!("dark")), vec![""]);
    }

    #[test]
    fn claims_are_small_and_named_as_the_page_reads_them() {
        let t = parse_theme(&json!({"name": "Acme", "accent_color": "#102060", "mode": "light"}))
            .unwrap();
        assert_eq!(
            serde_json::to_value(&t).unwrap(),
            json!({"name": "Acme", "mode": "light",
                   "light": {"accent": "#102060", "on_accent": "#ffffff", "link": "#102060"}})
        );
    }
}
