"""Editor's judgments: changes in translation (flags), credits and whom they name, outlets, transliteration."""
