#!/usr/bin/env bash
# Makes an SROS2-layout keystore for tests with the openssl CLI: KEYSTORE/enclaves/NAME/ holds
# identity_ca.cert.pem, permissions_ca.cert.pem, governance.p7s, permissions.p7s, cert.pem and key.pem
# (the names rmw_dds_common reads). One identity CA and one permissions CA (EC P-256) per keystore, so
# a second keystore is a stranger to the first. Governance: authenticated participants only (join access
# control), every topic read- and write-access-controlled; each enclave may publish and subscribe every
# topic on every domain. PROTECTION (default NONE) is every protection kind (rtps, discovery, liveliness,
# metadata, data): between two RustDDS 0.15.1 participants any other value (SIGN, ENCRYPT) makes every
# protected submessage fail to decode on the receiver ("ring ... 'Unspecified' error"), so nothing arrives.
#
#   [PROTECTION=NONE|SIGN|ENCRYPT] make_keystore.sh KEYSTORE NAME [NAME...]
#   (a NAME is a plain word: enclave /NAME, CN=NAME)
set -euo pipefail
KS="$1"
shift
P="${PROTECTION:-NONE}"
mkdir -p "$KS/public" "$KS/private" "$KS/enclaves"
cd "$KS"
days=3650
for ca in identity_ca permissions_ca; do
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days "$days" \
    -keyout "private/$ca.key.pem" -out "public/$ca.cert.pem" -subj "/O=pixel-sail test/CN=$ca" 2>/dev/null
done
cat > public/governance.xml <<XML
<?xml version="1.0" encoding="UTF-8"?>
<dds xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
     xsi:noNamespaceSchemaLocation="http://www.omg.org/spec/DDS-SECURITY/20170901/omg_shared_ca_governance.xsd">
  <domain_access_rules>
    <domain_rule>
      <domains><id_range><min>0</min><max>232</max></id_range></domains>
      <allow_unauthenticated_participants>false</allow_unauthenticated_participants>
      <enable_join_access_control>true</enable_join_access_control>
      <discovery_protection_kind>$P</discovery_protection_kind>
      <liveliness_protection_kind>$P</liveliness_protection_kind>
      <rtps_protection_kind>$P</rtps_protection_kind>
      <topic_access_rules>
        <topic_rule>
          <topic_expression>*</topic_expression>
          <enable_discovery_protection>true</enable_discovery_protection>
          <enable_liveliness_protection>true</enable_liveliness_protection>
          <enable_read_access_control>true</enable_read_access_control>
          <enable_write_access_control>true</enable_write_access_control>
          <metadata_protection_kind>$P</metadata_protection_kind>
          <data_protection_kind>$P</data_protection_kind>
        </topic_rule>
      </topic_access_rules>
    </domain_rule>
  </domain_access_rules>
</dds>
XML
sign() { openssl smime -sign -text -in "$1" -out "$2" -signer public/permissions_ca.cert.pem -inkey private/permissions_ca.key.pem; }
sign public/governance.xml public/governance.p7s
for name in "$@"; do
  e="enclaves/$name"
  mkdir -p "$e"
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$e/key.pem" -out "$e/req.pem" \
    -subj "/CN=$name" 2>/dev/null
  openssl x509 -req -days "$days" -in "$e/req.pem" -CA public/identity_ca.cert.pem \
    -CAkey private/identity_ca.key.pem -set_serial "$RANDOM" -out "$e/cert.pem" 2>/dev/null
  rm "$e/req.pem"
  cat > "$e/permissions.xml" <<XML
<?xml version="1.0" encoding="UTF-8"?>
<dds xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
     xsi:noNamespaceSchemaLocation="http://www.omg.org/spec/DDS-SECURITY/20170901/omg_shared_ca_permissions.xsd">
  <permissions>
    <grant name="$name">
      <subject_name>CN=$name</subject_name>
      <validity><not_before>2020-01-01T00:00:00</not_before><not_after>2040-01-01T00:00:00</not_after></validity>
      <allow_rule>
        <domains><id_range><min>0</min><max>232</max></id_range></domains>
        <publish><topics><topic>*</topic></topics></publish>
        <subscribe><topics><topic>*</topic></topics></subscribe>
      </allow_rule>
      <default>DENY</default>
    </grant>
  </permissions>
</dds>
XML
  sign "$e/permissions.xml" "$e/permissions.p7s"
  cp public/identity_ca.cert.pem public/permissions_ca.cert.pem public/governance.p7s "$e/"
done
