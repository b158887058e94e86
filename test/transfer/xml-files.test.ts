/** Metadata and properties files (reference/domain.md §3.7): reading, checking, writing. */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  parseMetadataFile,
  parsePropertiesFile,
  writeMetadataFile,
  writePropertiesFile,
  XmlFileError,
} from "../../src/transfer/xml-files.ts";
import { METADATA_XML, PROPERTIES_XML } from "./helpers.ts";

function rejects(parse: (xml: string) => unknown, xml: string, message: RegExp): void {
  assert.throws(
    () => parse(xml),
    (e: unknown) => {
      assert.ok(e instanceof XmlFileError, `expected an XmlFileError, got ${String(e)}`);
      assert.equal(e.status, "XmlReadFailed");
      assert.match(e.message, message);
      return true;
    },
  );
}

describe("metadata files", () => {
  test("child element name = key, text = value; entities decoded", () => {
    assert.deepEqual(parseMetadataFile(METADATA_XML), { Owner: "Jane", Project: "Atlas & Co" });
    assert.deepEqual(parseMetadataFile("<Metadata/>"), {});
    assert.deepEqual(parseMetadataFile("<Metadata><_a1>x&#33;</_a1><Empty/></Metadata>"), {
      _a1: "x!",
      Empty: "",
    });
  });

  test("names must be C# identifiers, unique ignoring case; values plain ASCII; 8 KiB at most", () => {
    const m = parseMetadataFile;
    rejects(m, "<Metadata><my-key>x</my-key></Metadata>", /'my-key' is not a valid metadata name/);
    rejects(m, "<Metadata><a.b>x</a.b></Metadata>", /'a\.b' is not a valid metadata name/);
    rejects(m, "<Metadata><ключ>x</ключ></Metadata>", /'ключ' is not a valid metadata name/);
    rejects(m, "<Metadata><a>1</a><A>2</A></Metadata>", /the name 'A' appears twice/);
    rejects(
      m,
      "<Metadata><a>é</a></Metadata>",
      /value of 'a' has characters other than printable ASCII/,
    );
    rejects(m, "<Metadata><a><b>1</b></a></Metadata>", /<a> must hold text, not elements/);
    rejects(
      m,
      `<Metadata><a>${"x".repeat(8200)}</a></Metadata>`,
      /8201 bytes; the Blob service allows 8192/,
    );
  });

  test("the wrong root or broken XML", () => {
    rejects(
      parseMetadataFile,
      "<Properties/>",
      /root element is <Properties>; expected <Metadata>/,
    );
    rejects(parseMetadataFile, "<Metadata><a>1</Metadata>", /not well-formed XML \(line 1/);
    rejects(parseMetadataFile, "not xml", /metadata file: /);
    rejects(parseMetadataFile, "<Metadata/><Metadata/>", /more than one root/);
  });

  test("writer and reader agree; the writer refuses bad names", () => {
    const m = { Owner: "Jane <jane@example.com>", Note: "a & b \"c\" 'd'" };
    assert.deepEqual(parseMetadataFile(writeMetadataFile(m)), m);
    assert.throws(() => writeMetadataFile({ "bad name": "x" }), XmlFileError);
  });
});

describe("properties files", () => {
  test("the settable properties; Last-Modified, Etag and Content-Length ignored", () => {
    assert.deepEqual(parsePropertiesFile(PROPERTIES_XML), {
      contentType: "application/octet-stream",
      cacheControl: "no-cache",
    });
    const all = parsePropertiesFile(`<Properties>
      <Last-Modified>Mon, 01 Jan 2024 00:00:00 GMT</Last-Modified><Etag>0x8D</Etag><Content-Length>12</Content-Length>
      <Content-Type>text/plain</Content-Type><Content-MD5>1B2M2Y8AsgTpgAmY7PhCfg==</Content-MD5>
      <Content-Encoding>gzip</Content-Encoding><Content-Language>en-US</Content-Language><Cache-Control>max-age=60</Cache-Control>
    </Properties>`);
    assert.deepEqual(all, {
      contentType: "text/plain",
      contentMD5: "1B2M2Y8AsgTpgAmY7PhCfg==",
      contentEncoding: "gzip",
      contentLanguage: "en-US",
      cacheControl: "max-age=60",
    });
  });

  test("unknown or repeated properties, a bad Content-MD5, the wrong root", () => {
    const p = parsePropertiesFile;
    rejects(
      p,
      "<Properties><Content-Disposition>x</Content-Disposition></Properties>",
      /unknown property <Content-Disposition>/,
    );
    rejects(
      p,
      "<Properties><Content-Type>a</Content-Type><content-type>b</content-type></Properties>",
      /appears twice/,
    );
    rejects(
      p,
      "<Properties><Content-MD5>abc</Content-MD5></Properties>",
      /Content-MD5 'abc' is not a Base64 MD5/,
    );
    rejects(p, "<Metadata/>", /root element is <Metadata>; expected <Properties>/);
  });

  test("writer and reader agree; export-only fields are written when given", () => {
    const props = {
      contentType: "image/png",
      contentMD5: "1B2M2Y8AsgTpgAmY7PhCfg==",
      cacheControl: "no-store",
    };
    assert.deepEqual(parsePropertiesFile(writePropertiesFile(props)), props);
    const exported = writePropertiesFile({
      ...props,
      etag: "0x1",
      contentLength: 5,
      lastModified: "x",
    });
    assert.match(exported, /<Etag>0x1<\/Etag>/);
    assert.match(exported, /<Content-Length>5<\/Content-Length>/);
    assert.deepEqual(parsePropertiesFile(exported), props);
  });
});

describe("escaping", () => {
  test("markup characters and control characters are escaped, other text is kept as it is, and read back the same", async () => {
    const { escapeXml, readXml } = await import("../../src/transfer/xml-files.ts");
    assert.equal(escapeXml("plain name/ünïcödé 文字.bin"), "plain name/ünïcödé 文字.bin");
    assert.equal(escapeXml(`a&b<c>d"e'f`), "a&amp;b&lt;c&gt;d&quot;e&apos;f");
    assert.equal(escapeXml("tab\there\u0001\u007f"), "tab&#x9;here&#x1;&#x7F;");
    assert.equal(escapeXml("  two spaces "), "&#x20;&#x20;two spaces&#x20;");
    for (const text of [
      "x",
      `&<>"'`,
      "\r\n\t end ",
      " lead",
      "trail  ",
      "\u0000\u001f",
      "a&amp;b",
    ]) {
      assert.equal(readXml(`<V a="${escapeXml(text)}">${escapeXml(text)}</V>`).text, text);
      assert.equal(readXml(`<V a="${escapeXml(text)}"/>`).attributes.a, text);
    }
  });
});
