//! The WSDL served at `?wsdl`: one port type with `processOCIMessage` and `processMessage`,
//! document/literal, each taking one string (`in0`) and returning one
//! (`processOCIMessageReturn`), at the address the client reached. Written with quick-xml.

use std::io;

use quick_xml::Writer;
use quick_xml::events::{BytesDecl, Event};

use super::envelope::SERVICE_NAMESPACE;

const WSDL_NAMESPACE: &str = "http://schemas.xmlsoap.org/wsdl/";
const WSDL_SOAP_NAMESPACE: &str = "http://schemas.xmlsoap.org/wsdl/soap/";
const XSD_NAMESPACE: &str = "http://www.w3.org/2001/XMLSchema";
const HTTP_TRANSPORT: &str = "http://schemas.xmlsoap.org/soap/http";

/// The operations the WSDL names; only the first is served.
const OPERATIONS: [&str; 2] = ["processOCIMessage", "processMessage"];

/// The WSDL, with `location` (e.g. `https://127.0.0.1:PORT/webservice/services/ProvisioningService`)
/// as the service's address.
pub(crate) fn wsdl(location: &str) -> Vec<u8> {
    let mut writer = Writer::new_with_indent(Vec::with_capacity(4096), b' ', 2);
    // Writing into a Vec cannot fail.
    let _ = write_definitions(&mut writer, location);
    writer.into_inner()
}

fn write_definitions(writer: &mut Writer<Vec<u8>>, location: &str) -> io::Result<()> {
    writer.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)))?;
    writer
        .create_element("wsdl:definitions")
        .with_attribute(("xmlns:wsdl", WSDL_NAMESPACE))
        .with_attribute(("xmlns:wsdlsoap", WSDL_SOAP_NAMESPACE))
        .with_attribute(("xmlns:xsd", XSD_NAMESPACE))
        .with_attribute(("xmlns:impl", SERVICE_NAMESPACE))
        .with_attribute(("targetNamespace", SERVICE_NAMESPACE))
        .write_inner_content(|writer| {
            write_types(writer)?;
            for operation in OPERATIONS {
                for (message, element) in [
                    (format!("{operation}Request"), operation.to_owned()),
                    (
                        format!("{operation}Response"),
                        format!("{operation}Response"),
                    ),
                ] {
                    writer
                        .create_element("wsdl:message")
                        .with_attribute(("name", message.as_str()))
                        .write_inner_content(|writer| {
                            writer
                                .create_element("wsdl:part")
                                .with_attribute(("name", "parameters"))
                                .with_attribute(("element", format!("impl:{element}").as_str()))
                                .write_empty()
                                .map(|_| ())
                        })?;
                }
            }
            write_port_type(writer)?;
            write_binding(writer)?;
            writer
                .create_element("wsdl:service")
                .with_attribute(("name", "BWProvisioningServiceService"))
                .write_inner_content(|writer| {
                    writer
                        .create_element("wsdl:port")
                        .with_attribute(("name", "ProvisioningService"))
                        .with_attribute(("binding", "impl:ProvisioningServiceSoapBinding"))
                        .write_inner_content(|writer| {
                            writer
                                .create_element("wsdlsoap:address")
                                .with_attribute(("location", location))
                                .write_empty()
                                .map(|_| ())
                        })
                        .map(|_| ())
                })?;
            Ok(())
        })?;
    Ok(())
}

/// The schema: for each operation a request element with one string `in0`, and a response
/// element with one string `<operation>Return`; elements qualified.
fn write_types(writer: &mut Writer<Vec<u8>>) -> io::Result<()> {
    writer
        .create_element("wsdl:types")
        .write_inner_content(|writer| {
            writer
                .create_element("xsd:schema")
                .with_attribute(("targetNamespace", SERVICE_NAMESPACE))
                .with_attribute(("elementFormDefault", "qualified"))
                .write_inner_content(|writer| {
                    for operation in OPERATIONS {
                        string_wrapper(writer, operation, "in0")?;
                        string_wrapper(
                            writer,
                            &format!("{operation}Response"),
                            &format!("{operation}Return"),
                        )?;
                    }
                    Ok(())
                })
                .map(|_| ())
        })
        .map(|_| ())
}

/// `<xsd:element name="NAME"><xsd:complexType><xsd:sequence><xsd:element name="FIELD"
/// type="xsd:string"/>...`
fn string_wrapper(writer: &mut Writer<Vec<u8>>, name: &str, field: &str) -> io::Result<()> {
    writer
        .create_element("xsd:element")
        .with_attribute(("name", name))
        .write_inner_content(|writer| {
            writer
                .create_element("xsd:complexType")
                .write_inner_content(|writer| {
                    writer
                        .create_element("xsd:sequence")
                        .write_inner_content(|writer| {
                            writer
                                .create_element("xsd:element")
                                .with_attribute(("name", field))
                                .with_attribute(("type", "xsd:string"))
                                .write_empty()
                                .map(|_| ())
                        })
                        .map(|_| ())
                })
                .map(|_| ())
        })
        .map(|_| ())
}

fn write_port_type(writer: &mut Writer<Vec<u8>>) -> io::Result<()> {
    writer
        .create_element("wsdl:portType")
        .with_attribute(("name", "BWProvisioningService"))
        .write_inner_content(|writer| {
            for operation in OPERATIONS {
                writer
                    .create_element("wsdl:operation")
                    .with_attribute(("name", operation))
                    .write_inner_content(|writer| {
                        writer
                            .create_element("wsdl:input")
                            .with_attribute((
                                "message",
                                format!("impl:{operation}Request").as_str(),
                            ))
                            .write_empty()?;
                        writer
                            .create_element("wsdl:output")
                            .with_attribute((
                                "message",
                                format!("impl:{operation}Response").as_str(),
                            ))
                            .write_empty()?;
                        Ok(())
                    })?;
            }
            Ok(())
        })
        .map(|_| ())
}

fn write_binding(writer: &mut Writer<Vec<u8>>) -> io::Result<()> {
    writer
        .create_element("wsdl:binding")
        .with_attribute(("name", "ProvisioningServiceSoapBinding"))
        .with_attribute(("type", "impl:BWProvisioningService"))
        .write_inner_content(|writer| {
            writer
                .create_element("wsdlsoap:binding")
                .with_attribute(("style", "document"))
                .with_attribute(("transport", HTTP_TRANSPORT))
                .write_empty()?;
            for operation in OPERATIONS {
                writer
                    .create_element("wsdl:operation")
                    .with_attribute(("name", operation))
                    .write_inner_content(|writer| {
                        writer
                            .create_element("wsdlsoap:operation")
                            .with_attribute(("soapAction", ""))
                            .write_empty()?;
                        for direction in ["wsdl:input", "wsdl:output"] {
                            writer
                                .create_element(direction)
                                .write_inner_content(|writer| {
                                    writer
                                        .create_element("wsdlsoap:body")
                                        .with_attribute(("use", "literal"))
                                        .write_empty()
                                        .map(|_| ())
                                })?;
                        }
                        Ok(())
                    })?;
            }
            Ok(())
        })
        .map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_address_is_the_one_given_and_escaped() {
        let text = String::from_utf8(wsdl(
            "https://h:1/webservice/services/ProvisioningService?a=1&b=2",
        ))
        .unwrap();
        assert!(text.contains(
            "<wsdlsoap:address location=\"https://h:1/webservice/services/ProvisioningService?a=1&amp;b=2\"/>"
        ), "{text}");
        assert!(text.contains("<xsd:element name=\"in0\" type=\"xsd:string\"/>"));
        assert!(
            text.contains("<xsd:element name=\"processOCIMessageReturn\" type=\"xsd:string\"/>")
        );
        assert!(text.contains("<wsdl:operation name=\"processMessage\">"));
    }
}
