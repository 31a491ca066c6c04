"""Protocol constants shared by the server, the CLI and the Blender add-on.

Units: sizes in bytes, times in seconds.
"""

PROTOCOL_VERSION = 1
SUPPORTED_VERSIONS = (1,)

DEFAULT_ADDRESS = "tcp://127.0.0.1:5557"

# Limits every inbound message is checked against before anything else reads it.
MAX_HEADER_BYTES = 1 << 20            # 1 MiB of JSON
MAX_MESSAGE_BYTES = 512 << 20         # all frames together
MAX_ARRAYS = 4096
MAX_NDIM = 8
MAX_STRING_CHARS = 4096

# Only plain numeric dtypes cross the wire; all little-endian.
ALLOWED_DTYPES = (
    "bool", "uint8", "int8", "uint16", "int16", "uint32", "int32",
    "uint64", "int64", "float16", "float32", "float64",
)

# Stable error codes: clients match on these, users read the message.
class ErrorCode:
    BAD_FRAME = "bad_frame"                  # header not JSON / not an object
    BAD_VERSION = "bad_version"              # protocol version not supported
    UNKNOWN_KIND = "unknown_kind"            # message kind not known
    MISSING_FIELD = "missing_field"
    EXTRA_FIELD = "extra_field"
    BAD_TYPE = "bad_type"                    # a field has the wrong type or value
    BAD_ARRAY = "bad_array"                  # array frame does not match its declaration
    TOO_LARGE = "too_large"
    UNKNOWN_JOB_KIND = "unknown_job_kind"
    BAD_PARAMS = "bad_params"                # job parameters rejected
    NOT_FOUND = "not_found"                  # no such job id
    NOT_READY = "not_ready"                  # job not finished yet
    CANCELLED = "cancelled"
    JOB_FAILED = "job_failed"
    BAD_INPUT = "bad_input"                  # user input (photo, file) is unusable
    BUSY = "busy"
    INTERNAL = "internal"
    UNREACHABLE = "unreachable"              # client side: no answer from server
    BAD_FILE = "bad_file"                    # avatar file unreadable
    NO_OWNER = "no_owner"                    # a job request without a valid owner token


JOB_STATES = ("queued", "running", "done", "failed", "cancelled")
