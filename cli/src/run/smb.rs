//! SMB Direct (MS-SMBD) message layouts the workload exchanges over sends and receives, plus the
//! small SMB2-like READ/WRITE request and response the workload carries as data.
//!
//! Owns byte encoding and decoding only (little-endian, as on the wire); it never touches NDK
//! objects and never panics on a short or malformed buffer (decoders answer `None`).

/// `SMBDIRECT_V1`.
pub const VERSION: u16 = 0x0100;
/// Size of an encoded negotiate request.
pub const NEGOTIATE_REQUEST_LEN: usize = 20;
/// Size of an encoded negotiate response.
pub const NEGOTIATE_RESPONSE_LEN: usize = 32;
/// Offset of the data in a data-transfer message (header 20 bytes + 4 of padding).
pub const DATA_OFFSET: usize = 24;
/// Size of the SMB2-like request carried as data.
pub const REQUEST_LEN: usize = 32;
/// Size of the SMB2-like response carried as data.
pub const RESPONSE_LEN: usize = 16;
/// The largest message the workload sends (and the size of every receive buffer), as the Linux
/// SMB Direct client's `max_send_size`.
pub const MAX_MESSAGE: usize = 1364;

/// `SMB_DIRECT_NEGOTIATE_REQUEST`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NegotiateRequest {
    /// Receive credits the client asks for.
    pub credits_requested: u16,
    /// Largest send the client will make.
    pub preferred_send_size: u32,
    /// Largest message the client can receive.
    pub max_receive_size: u32,
    /// Largest reassembled message.
    pub max_fragmented_size: u32,
}

/// `SMB_DIRECT_NEGOTIATE_RESPONSE`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NegotiateResponse {
    /// Credits the server asks the client to grant.
    pub credits_requested: u16,
    /// Send credits granted to the client (receives the server posted).
    pub credits_granted: u16,
    /// 0 for success.
    pub status: u32,
    /// Largest single RDMA read or write the server will do.
    pub max_read_write_size: u32,
    /// Largest send the server will make.
    pub preferred_send_size: u32,
    /// Largest message the server can receive.
    pub max_receive_size: u32,
}

/// The SMB2 command a data message carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Command {
    /// SMB2 READ: the server RDMA-writes file data into the client's buffer.
    Read,
    /// SMB2 WRITE: the server RDMA-reads file data from the client's buffer.
    Write,
}

/// `SMB_DIRECT_BUFFER_DESCRIPTOR_V1`: a registered client buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Descriptor {
    /// Remote address.
    pub offset: u64,
    /// Remote token.
    pub token: u32,
    /// Length in bytes.
    pub length: u32,
}

/// The client's request: command, id, and the buffer with its channel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Request {
    /// READ or WRITE.
    pub command: Command,
    /// `SMB2_CHANNEL_RDMA_V1_INVALIDATE` (the reply invalidates the buffer) or `_V1`.
    pub invalidate: bool,
    /// Message id, echoed by the response.
    pub id: u64,
    /// The client buffer.
    pub buffer: Descriptor,
}

/// The server's response.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Response {
    /// The request's id.
    pub id: u64,
    /// 0 for success.
    pub status: u32,
    /// Bytes transferred.
    pub length: u32,
}

/// The data-transfer header fields the workload uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    /// Credits the sender asks for.
    pub credits_requested: u16,
    /// Credits the sender grants (receives it posted since its last message).
    pub credits_granted: u16,
    /// Length of the data after the header.
    pub data_length: u32,
}

fn put16(b: &mut [u8], at: usize, v: u16) {
    b[at..at + 2].copy_from_slice(&v.to_le_bytes());
}
fn put32(b: &mut [u8], at: usize, v: u32) {
    b[at..at + 4].copy_from_slice(&v.to_le_bytes());
}
fn put64(b: &mut [u8], at: usize, v: u64) {
    b[at..at + 8].copy_from_slice(&v.to_le_bytes());
}
fn get16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(b.get(at..at + 2)?.try_into().ok()?))
}
fn get32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}
fn get64(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_le_bytes(b.get(at..at + 8)?.try_into().ok()?))
}

impl NegotiateRequest {
    /// Encodes into the first [`NEGOTIATE_REQUEST_LEN`] bytes.
    #[must_use]
    pub fn encode(&self) -> [u8; NEGOTIATE_REQUEST_LEN] {
        let mut b = [0; NEGOTIATE_REQUEST_LEN];
        put16(&mut b, 0, VERSION);
        put16(&mut b, 2, VERSION);
        put16(&mut b, 6, self.credits_requested);
        put32(&mut b, 8, self.preferred_send_size);
        put32(&mut b, 12, self.max_receive_size);
        put32(&mut b, 16, self.max_fragmented_size);
        b
    }

    /// Decodes; `None` if short or no common version.
    #[must_use]
    pub fn decode(b: &[u8]) -> Option<Self> {
        let (min, max) = (get16(b, 0)?, get16(b, 2)?);
        if b.len() != NEGOTIATE_REQUEST_LEN || !(min..=max).contains(&VERSION) {
            return None;
        }
        Some(Self {
            credits_requested: get16(b, 6)?,
            preferred_send_size: get32(b, 8)?,
            max_receive_size: get32(b, 12)?,
            max_fragmented_size: get32(b, 16)?,
        })
    }
}

impl NegotiateResponse {
    /// Encodes.
    #[must_use]
    pub fn encode(&self) -> [u8; NEGOTIATE_RESPONSE_LEN] {
        let mut b = [0; NEGOTIATE_RESPONSE_LEN];
        put16(&mut b, 0, VERSION);
        put16(&mut b, 2, VERSION);
        put16(&mut b, 4, VERSION);
        put16(&mut b, 8, self.credits_requested);
        put16(&mut b, 10, self.credits_granted);
        put32(&mut b, 12, self.status);
        put32(&mut b, 16, self.max_read_write_size);
        put32(&mut b, 20, self.preferred_send_size);
        put32(&mut b, 24, self.max_receive_size);
        put32(&mut b, 28, 1 << 20);
        b
    }

    /// Decodes; `None` if short or another version was negotiated.
    #[must_use]
    pub fn decode(b: &[u8]) -> Option<Self> {
        if b.len() != NEGOTIATE_RESPONSE_LEN || get16(b, 4)? != VERSION {
            return None;
        }
        Some(Self {
            credits_requested: get16(b, 8)?,
            credits_granted: get16(b, 10)?,
            status: get32(b, 12)?,
            max_read_write_size: get32(b, 16)?,
            preferred_send_size: get32(b, 20)?,
            max_receive_size: get32(b, 24)?,
        })
    }
}

/// Encodes a data-transfer message: header, then `data` at [`DATA_OFFSET`].
#[must_use]
pub fn encode_data(credits_requested: u16, credits_granted: u16, data: &[u8]) -> Vec<u8> {
    let mut b = vec![0; DATA_OFFSET + data.len()];
    put16(&mut b, 0, credits_requested);
    put16(&mut b, 2, credits_granted);
    put32(&mut b, 12, u32::try_from(DATA_OFFSET).unwrap_or(u32::MAX));
    put32(&mut b, 16, u32::try_from(data.len()).unwrap_or(u32::MAX));
    b[DATA_OFFSET..].copy_from_slice(data);
    b
}

/// Decodes a data-transfer message into its header and data.
#[must_use]
pub fn decode_data(b: &[u8]) -> Option<(Header, &[u8])> {
    let offset = usize::try_from(get32(b, 12)?).ok()?;
    let length = get32(b, 16)?;
    let data = b.get(offset..offset.checked_add(usize::try_from(length).ok()?)?)?;
    Some((
        Header {
            credits_requested: get16(b, 0)?,
            credits_granted: get16(b, 2)?,
            data_length: length,
        },
        data,
    ))
}

impl Request {
    /// Encodes.
    #[must_use]
    pub fn encode(&self) -> [u8; REQUEST_LEN] {
        let mut b = [0; REQUEST_LEN];
        put16(&mut b, 0, if self.command == Command::Read { 8 } else { 9 });
        put16(&mut b, 2, if self.invalidate { 2 } else { 1 });
        put64(&mut b, 4, self.id);
        put64(&mut b, 12, self.buffer.offset);
        put32(&mut b, 20, self.buffer.token);
        put32(&mut b, 24, self.buffer.length);
        b
    }

    /// Decodes; `None` for a short buffer, an unknown command or channel.
    #[must_use]
    pub fn decode(b: &[u8]) -> Option<Self> {
        let command = match get16(b, 0)? {
            8 => Command::Read,
            9 => Command::Write,
            _ => return None,
        };
        let invalidate = match get16(b, 2)? {
            1 => false,
            2 => true,
            _ => return None,
        };
        Some(Self {
            command,
            invalidate,
            id: get64(b, 4)?,
            buffer: Descriptor {
                offset: get64(b, 12)?,
                token: get32(b, 20)?,
                length: get32(b, 24)?,
            },
        })
    }
}

impl Response {
    /// Encodes.
    #[must_use]
    pub fn encode(&self) -> [u8; RESPONSE_LEN] {
        let mut b = [0; RESPONSE_LEN];
        put64(&mut b, 0, self.id);
        put32(&mut b, 8, self.status);
        put32(&mut b, 12, self.length);
        b
    }

    /// Decodes; `None` for a short buffer.
    #[must_use]
    pub fn decode(b: &[u8]) -> Option<Self> {
        Some(Self {
            id: get64(b, 0)?,
            status: get32(b, 8)?,
            length: get32(b, 12)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negotiate_round_trips_and_checks_version() {
        let req = NegotiateRequest {
            credits_requested: 255,
            preferred_send_size: 1364,
            max_receive_size: 1364,
            max_fragmented_size: 1 << 20,
        };
        let bytes = req.encode();
        assert_eq!(NegotiateRequest::decode(&bytes), Some(req));
        let mut old = bytes;
        old[2] = 0; // MaxVersion 0x0000 < 0x0100
        old[3] = 0;
        assert_eq!(NegotiateRequest::decode(&old), None);
        assert_eq!(NegotiateRequest::decode(&bytes[..10]), None);

        let resp = NegotiateResponse {
            credits_requested: 255,
            credits_granted: 16,
            status: 0,
            max_read_write_size: 1 << 20,
            preferred_send_size: 1364,
            max_receive_size: 1364,
        };
        assert_eq!(NegotiateResponse::decode(&resp.encode()), Some(resp));
    }

    #[test]
    fn data_messages_carry_credits_and_requests() {
        let req = Request {
            command: Command::Write,
            invalidate: true,
            id: 42,
            buffer: Descriptor {
                offset: 0x1000,
                token: 7,
                length: 1 << 20,
            },
        };
        let msg = encode_data(10, 3, &req.encode());
        let (header, data) = decode_data(&msg).expect("well-formed");
        assert_eq!((header.credits_requested, header.credits_granted), (10, 3));
        assert_eq!(Request::decode(data), Some(req));
        // A header claiming more data than the buffer holds is refused, not read past.
        assert!(decode_data(&msg[..DATA_OFFSET + 4]).is_none());
        assert!(Request::decode(&[8, 0, 3, 0]).is_none());
        let resp = Response {
            id: 42,
            status: 0,
            length: 9,
        };
        assert_eq!(Response::decode(&resp.encode()), Some(resp));
    }
}
