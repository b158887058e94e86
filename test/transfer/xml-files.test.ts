/** Metadata and properties files (reference/domain.md §3.7): reading, checking, writing. */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { prng } from "../../bench/dataset.ts";
import { serializeManifest } from "../../src/transfer/manifest.ts";
import {
  parseMetadataFile,
  parsePropertiesFile,
  readAnyXml,
  readPlainXml,
  readXml,
  writeMetadataFile,
  type XmlElement,
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

describe("the plain-XML fast path reads as fast-xml-parser does", () => {
  const seeds = [
    METADATA_XML,
    PROPERTIES_XML,
    '<?xml version="1.0" encoding="utf-8"?>\n<DriveManifest Version="2014-11-01">\n  <Drive>\n    <DriveId>WD-1</DriveId>\n    <BlobList Id="s#1-0">\n      <Blob>\n        <BlobPath>c/a &amp; b/&#x7;é.txt</BlobPath>\n        <FilePath>\\s\\a.txt</FilePath>\n        <Length>5</Length>\n        <ImportDisposition>rename</ImportDisposition>\n        <BlockList>\n          <Block Offset="0" Length="5" Id="AAAA" Hash="0123456789ABCDEF0123456789ABCDEF"/>\n        </BlockList>\n      </Blob>\n    </BlobList>\n  </Drive>\n</DriveManifest>\n',
    "<?xml version='1.0' standalone='yes'?>\r\n<a x='1' y=\"it's\" z=\" padded \">\r\n  one <b/> two\r\n  <c>&lt;&#60;&#x3C;&gt;&amp;&quot;&apos;</c> three\r\n</a>\r\n",
    "<a>\u00a0</a>",
    "<a>\u00a0x\u2028</a>",
    "<a>x\ny\tz</a>",
    "<a >text</a >",
    '<a><b></b><b/><b x=""/></a>',
    "<a>&#1114112;&#0;&#x110000;</a>",
    "<Metadata><_a1>x&#33;</_a1><Empty/></Metadata>",
  ];
  const invalid = [
    "",
    "   ",
    "text",
    "<a>",
    "<a></b>",
    "<a/><b/>",
    "<a>1</a>x",
    "<a x=1/>",
    '<a x="1"y="2"/>',
    '<a x="1" x="2"/>',
    '<a x="<"/>',
    '<a x="a&b"/>',
    "<a>&nbsp;</a>",
    "<a>&;</a>",
    "<a><!-- c --></a>",
    "<a><![CDATA[x]]></a>",
    "<!DOCTYPE a><a/>",
    "<a><?pi x?></a>",
    ' <?xml version="1.0"?><a/>',
    "<constructor/>",
    "<a toString='1'/>",
    "<a:b/>",
    "<1a/>",
    "<a>\u0001</a>",
    "\u00a0<a/>",
  ];
  const same = (xml: string) => {
    const fast = readPlainXml(xml);
    if (fast === undefined) return false;
    assert.deepEqual(fast, readAnyXml(xml), JSON.stringify(xml));
    return true;
  };

  test("documents in the subset give the same element; the rest fall through", () => {
    for (const xml of seeds)
      assert.ok(same(xml), `the fast path did not take ${JSON.stringify(xml)}`);
    const manifest = serializeManifest({
      version: "2014-11-01",
      driveId: "WD-2",
      blobLists: [
        {
          id: "s-0",
          blobs: ["c/plain.bin", "c/ünï <&> \"'\u0001\u001f\t\r\n x", "$root/ a.b"].map(
            (blobPath, i) => ({
              blobPath,
              filePath: `\\s\\f${i}`,
              length: 4,
              disposition: "rename" as const,
              blobType: "BlockBlob" as const,
              ranges: [{ offset: 0, length: 4, hash: "00".repeat(16), id: "QUJD" }],
            }),
          ),
        },
      ],
    });
    assert.ok(same(manifest));
    const texts = (el: XmlElement, name: string): string[] => [
      ...(el.name === name ? [el.text] : []),
      ...el.children.flatMap((c) => texts(c, name)),
    ];
    assert.deepEqual(texts(readXml(manifest), "BlobPath"), [
      "c/plain.bin",
      "c/ünï <&> \"'\u0001\u001f\t\r\n x",
      "$root/ a.b",
    ]);
    for (const xml of invalid) {
      assert.equal(readPlainXml(xml), undefined, JSON.stringify(xml));
    }
  });

  test("mutated documents: whatever the fast path takes, fast-xml-parser reads the same", () => {
    const random = prng(20261202);
    const alphabet = [
      "<",
      ">",
      "/",
      "=",
      '"',
      "'",
      "&",
      ";",
      "#",
      " ",
      "\r",
      "\n",
      "\t",
      "x",
      "?",
      "!",
      "-",
      "\u00a0",
      "&amp;",
      "</a>",
      "<a>",
      "<b/>",
      'q="1"',
    ];
    let taken = 0;
    for (let k = 0; k < 4000; k++) {
      let xml = seeds[Math.floor(random() * seeds.length)]!;
      const edits = 1 + Math.floor(random() * 3);
      for (let e = 0; e < edits; e++) {
        const at = Math.floor(random() * (xml.length + 1));
        const what = random();
        const piece = alphabet[Math.floor(random() * alphabet.length)]!;
        if (what < 0.4) xml = xml.slice(0, at) + xml.slice(at + 1);
        else if (what < 0.7) xml = xml.slice(0, at) + piece + xml.slice(at);
        else xml = xml.slice(0, at) + piece + xml.slice(at + 1);
      }
      const fast = readPlainXml(xml);
      if (fast === undefined) continue;
      taken++;
      let slow: unknown;
      try {
        slow = readAnyXml(xml);
      } catch (e) {
        assert.fail(
          `the fast path took ${JSON.stringify(xml)}, which fast-xml-parser refuses: ${(e as Error).message}`,
        );
      }
      assert.deepEqual(fast, slow, JSON.stringify(xml));
    }
    // The mutants are not all refused: the comparison covers real cases.
    assert.ok(taken > 500, `only ${taken} mutants were in the subset`);
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
